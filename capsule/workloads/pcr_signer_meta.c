/*
 * pcr_signer_meta: Applied Biosystems text exports and RDML files. The
 * text parser works line by line over the borrowed buffer; the RDML reader
 * opens the zip from memory with libzip, reads rdml_data.xml (bounded) and
 * walks it with expat, keeping only the element path and the few texts it
 * needs.
 */
#include "pcr_signer_meta.h"

#include <expat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "capsule_err.h"
#include "capsule_verify.h"

static int
s_fail (capsule_pcr_meta_t *meta, int code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
static int
s_fail (capsule_pcr_meta_t *meta, int code, const char *fmt, ...)
{
    meta->parsed = false;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (meta->reason, sizeof meta->reason, fmt, ap);
    va_end (ap);
    free (meta->samples);
    meta->samples = NULL;
    meta->nsamples = 0;
    return code;
}

/* Copies src (len bytes of valid UTF-8) into out, trimmed of blanks, cut
   on a character boundary to fit. */
static void
s_copy (char *out, size_t size, const char *src, size_t len)
{
    while (len && (*src == ' ' || *src == '\t'))
        src++, len--;
    while (len && (src[len - 1] == ' ' || src[len - 1] == '\t' || src[len - 1] == '\r'))
        len--;
    if (len >= size) {
        len = size - 1;
        while (len && ((unsigned char)src[len] & 0xc0) == 0x80)
            len--;
    }
    memcpy (out, src, len);
    out[len] = '\0';
}

void
capsule_pcr_meta_clear (capsule_pcr_meta_t *meta)
{
    free (meta->samples);
    memset (meta, 0, sizeof *meta);
}

static capsule_pcr_sample_t *
s_add_sample (capsule_pcr_meta_t *meta)
{
    if (meta->nsamples >= CAPSULE_PCR_SAMPLES_MAX)
        return NULL;
    if ((meta->nsamples & (meta->nsamples - 1)) == 0) {
        size_t cap = meta->nsamples ? meta->nsamples * 2 : 16;
        capsule_pcr_sample_t *s = realloc (meta->samples, cap * sizeof *s);
        if (!s)
            abort ();
        meta->samples = s;
    }
    capsule_pcr_sample_t *s = &meta->samples[meta->nsamples++];
    memset (s, 0, sizeof *s);
    return s;
}

/* A Ct value: numbers lose thousands separators ("1,234.5" -> "1234.5");
   words ("Undetermined") stay. */
static void
s_copy_ct (char *out, size_t size, const char *src, size_t len)
{
    char tmp[64];
    s_copy (tmp, sizeof tmp, src, len);
    bool numeric = tmp[0] != '\0';
    for (const char *p = tmp; *p; p++)
        if (!((*p >= '0' && *p <= '9') || *p == ',' || *p == '.' || *p == '-' || *p == '+' ||
              *p == 'e' || *p == 'E'))
            numeric = false;
    char digits[64];
    size_t j = 0;
    for (const char *p = tmp; *p; p++)
        if (!(numeric && *p == ','))
            digits[j++] = *p;
    s_copy (out, size, digits, j);
}

/* ---- Applied Biosystems text ----------------------------------------------------------------- */

typedef struct {
    const char *p;
    size_t len;
} s_span_t;

/* Splits line by tabs into at most max cells. */
static size_t
s_cells (const char *line, size_t len, s_span_t *cells, size_t max)
{
    size_t n = 0;
    const char *start = line, *end = line + len;
    while (n < max) {
        const char *tab = memchr (start, '\t', (size_t)(end - start));
        const char *stop = tab ? tab : end;
        cells[n++] = (s_span_t){ start, (size_t)(stop - start) };
        if (!tab)
            break;
        start = tab + 1;
    }
    return n;
}

static bool
s_cell_is (s_span_t c, const char *want)
{
    char tmp[64];
    s_copy (tmp, sizeof tmp, c.p, c.len);
    return strcmp (tmp, want) == 0;
}

static bool
s_cell_is_ct (s_span_t c)
{
    /* "CT", "Ct", "Cq", "Crt", and the Cyrillic-te spelling "Cт" / "CТ" */
    return s_cell_is (c, "CT") || s_cell_is (c, "Ct") || s_cell_is (c, "Cq") ||
           s_cell_is (c, "Crt") || s_cell_is (c, "C\xd1\x82") || s_cell_is (c, "C\xd0\xa2");
}

#define S_COLS_MAX 128

/* The sections the parser reads: [Results] gives the samples and their Ct
   values; [Sample Setup] names the sample and target of each well (it fills
   what a results row leaves empty, and is the sample list of a plate that
   has no results yet); [Amplification Data] holds the curves, which the
   signed raw bytes carry and the statement does not, so it is skipped like
   any other section. */
enum { S_SEC_NONE, S_SEC_SETUP, S_SEC_RESULTS, S_SEC_OTHER };

typedef struct {
    int well, pos, sample, target, ct;
} s_cols_t;

/* Reads a table's header row into cols. */
static void
s_header_cols (const s_span_t *cells, size_t n, s_cols_t *c)
{
    *c = (s_cols_t){ -1, -1, -1, -1, -1 };
    for (size_t i = 0; i < n; i++) {
        if (c->well < 0 && s_cell_is (cells[i], "Well"))
            c->well = (int)i;
        else if (c->pos < 0 && s_cell_is (cells[i], "Well Position"))
            c->pos = (int)i;
        else if (c->sample < 0 && s_cell_is (cells[i], "Sample Name"))
            c->sample = (int)i;
        else if (c->target < 0 && s_cell_is (cells[i], "Target Name"))
            c->target = (int)i;
        else if (c->ct < 0 && s_cell_is_ct (cells[i]))
            c->ct = (int)i;
    }
}

static void
s_cell_copy (char *out, size_t size, const s_span_t *cells, size_t n, int col)
{
    if (col >= 0 && (size_t)col < n)
        s_copy (out, size, cells[col].p, cells[col].len);
}

/* Fills the sample and target a results row left empty from the setup row
   of the same well (and target, when both name one). */
static void
s_merge_setup (capsule_pcr_meta_t *meta, const capsule_pcr_meta_t *setup)
{
    for (size_t i = 0; i < meta->nsamples; i++) {
        capsule_pcr_sample_t *r = &meta->samples[i];
        for (size_t j = 0; j < setup->nsamples; j++) {
            const capsule_pcr_sample_t *s = &setup->samples[j];
            if (strcmp (r->well, s->well) != 0 ||
                (r->target[0] && s->target[0] && strcmp (r->target, s->target) != 0))
                continue;
            if (!r->sample[0])
                memcpy (r->sample, s->sample, sizeof r->sample);
            if (!r->target[0])
                memcpy (r->target, s->target, sizeof r->target);
            break;
        }
    }
}

static int
s_parse_ab (const char *name, const char *text, size_t len, capsule_pcr_meta_t *meta)
{
    snprintf (meta->format, sizeof meta->format, "ab-text");
    if (len >= 3 && memcmp (text, "\xef\xbb\xbf", 3) == 0)
        text += 3, len -= 3;
    size_t headers = 0;
    int section = S_SEC_NONE;
    bool have_cols = false, saw_results = false, saw_setup = false;
    s_cols_t cols = { -1, -1, -1, -1, -1 };
    capsule_pcr_meta_t setup = { 0 }; /* [Sample Setup] rows */
    const char *p = text, *end = text + len;
    size_t lineno = 0;
    int rc = 0;
    while (p < end && rc == 0) {
        const char *nl = memchr (p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t ll = (size_t)(le - p);
        if (ll && p[ll - 1] == '\r')
            ll--;
        lineno++;
        if (ll >= 2 && p[0] == '*' && p[1] == ' ') {
            const char *eq = memchr (p, '=', ll);
            if (!eq) {
                rc = s_fail (meta, CAPSULE_ERR_META_SYNTAX, "line %zu: header without '='", lineno);
                break;
            }
            char key[64];
            s_copy (key, sizeof key, p + 2, (size_t)(eq - p - 2));
            const char *v = eq + 1;
            size_t vl = (size_t)(p + ll - v);
            headers++;
            if (strcmp (key, "Instrument Type") == 0)
                s_copy (meta->instrument_type, sizeof meta->instrument_type, v, vl);
            else if (strcmp (key, "Instrument Serial Number") == 0)
                s_copy (meta->instrument_serial, sizeof meta->instrument_serial, v, vl);
            else if (strcmp (key, "Experiment Name") == 0)
                s_copy (meta->experiment_name, sizeof meta->experiment_name, v, vl);
            else if (strcmp (key, "Experiment File Name") == 0)
                s_copy (meta->experiment_file, sizeof meta->experiment_file, v, vl);
            else if (strcmp (key, "Experiment Run End Time") == 0)
                s_copy (meta->run_end, sizeof meta->run_end, v, vl);
        } else if (ll >= 2 && p[0] == '[') {
            if (ll == 9 && memcmp (p, "[Results]", 9) == 0)
                section = S_SEC_RESULTS, saw_results = true;
            else if (ll == 14 && memcmp (p, "[Sample Setup]", 14) == 0)
                section = S_SEC_SETUP, saw_setup = true;
            else
                section = S_SEC_OTHER;
            have_cols = false;
        } else if (ll == 0) {
            if (have_cols) /* a blank line ends a table */
                section = S_SEC_NONE, have_cols = false;
        } else if (section == S_SEC_RESULTS || section == S_SEC_SETUP) {
            bool results = section == S_SEC_RESULTS;
            s_span_t cells[S_COLS_MAX];
            size_t n = s_cells (p, ll, cells, S_COLS_MAX);
            if (!have_cols) {
                s_header_cols (cells, n, &cols);
                if ((cols.well < 0 && cols.pos < 0) || (results && cols.ct < 0)) {
                    rc = s_fail (meta, CAPSULE_ERR_META_SYNTAX, "line %zu: %s header lacks %s",
                                 lineno, results ? "[Results]" : "[Sample Setup]",
                                 results ? "Well or Ct columns" : "a Well column");
                    break;
                }
                have_cols = true;
            } else {
                capsule_pcr_sample_t *s = s_add_sample (results ? meta : &setup);
                if (!s) {
                    rc = s_fail (meta, CAPSULE_ERR_META_SYNTAX, "more than %d %s rows",
                                 CAPSULE_PCR_SAMPLES_MAX, results ? "result" : "sample setup");
                    break;
                }
                s_cell_copy (s->well, sizeof s->well, cells, n,
                             cols.pos >= 0 ? cols.pos : cols.well);
                s_cell_copy (s->sample, sizeof s->sample, cells, n, cols.sample);
                s_cell_copy (s->target, sizeof s->target, cells, n, cols.target);
                if (results && (size_t)cols.ct < n)
                    s_copy_ct (s->ct, sizeof s->ct, cells[cols.ct].p, cells[cols.ct].len);
            }
        }
        p = nl ? nl + 1 : end;
    }
    if (rc == 0 && headers == 0)
        rc = s_fail (meta, CAPSULE_ERR_META_FORMAT, "no '* Key = Value' header lines");
    if (rc == 0 && !saw_results && !saw_setup)
        rc = s_fail (meta, CAPSULE_ERR_META_SYNTAX, "no [Results] or [Sample Setup] section");
    if (rc == 0) {
        if (saw_results)
            s_merge_setup (meta, &setup);
        else { /* a plate set up but not run (or exported without results) */
            meta->samples = setup.samples;
            meta->nsamples = setup.nsamples;
            setup.samples = NULL;
        }
        if (!meta->experiment_file[0])
            s_copy (meta->experiment_file, sizeof meta->experiment_file, name, strlen (name));
        meta->parsed = true;
    }
    capsule_pcr_meta_clear (&setup);
    return rc;
}

/* ---- RDML ------------------------------------------------------------------------------------ */

#define S_XML_DEPTH 64

typedef struct {
    capsule_pcr_meta_t *meta;
    char path[S_XML_DEPTH][32];
    int depth;
    char text[128];
    size_t text_len;
    bool collect;
    char react_id[16];
    char react_sample[96];
    bool overflow;
    bool rdml_root;
} s_xml_t;

static const char *
s_local (const char *name)
{
    const char *c = strrchr (name, ':');
    return c ? c + 1 : name;
}

static const char *
s_attr (const char **atts, const char *key)
{
    for (size_t i = 0; atts[i]; i += 2)
        if (strcmp (s_local (atts[i]), key) == 0)
            return atts[i + 1];
    return NULL;
}

static bool
s_at (const s_xml_t *x, const char *parent, const char *self)
{
    return x->depth >= 2 && strcmp (x->path[x->depth - 2], parent) == 0 &&
           strcmp (x->path[x->depth - 1], self) == 0;
}

static void XMLCALL
s_xml_start (void *ud, const char *el, const char **atts)
{
    s_xml_t *x = ud;
    const char *name = s_local (el);
    if (x->depth == 0)
        x->rdml_root = strcmp (name, "rdml") == 0;
    if (x->depth >= S_XML_DEPTH) {
        x->overflow = true;
        x->depth++;
        return;
    }
    snprintf (x->path[x->depth++], sizeof x->path[0], "%s", name);
    x->text_len = 0;
    x->collect = false;
    const char *id = s_attr (atts, "id");
    capsule_pcr_meta_t *m = x->meta;
    if (s_at (x, "rdml", "experiment") && id && !m->experiment_name[0])
        s_copy (m->experiment_name, sizeof m->experiment_name, id, strlen (id));
    else if (s_at (x, "run", "instrument") || s_at (x, "run", "runDate"))
        x->collect = true;
    else if (s_at (x, "run", "react")) {
        s_copy (x->react_id, sizeof x->react_id, id ? id : "", id ? strlen (id) : 0);
        x->react_sample[0] = '\0';
    } else if (s_at (x, "react", "sample") && id)
        s_copy (x->react_sample, sizeof x->react_sample, id, strlen (id));
    else if (s_at (x, "react", "data")) {
        capsule_pcr_sample_t *s = s_add_sample (m);
        if (!s)
            x->overflow = true;
        else {
            memcpy (s->well, x->react_id, sizeof s->well);
            memcpy (s->sample, x->react_sample, sizeof s->sample);
        }
    } else if (s_at (x, "data", "tar") && id && m->nsamples)
        s_copy (m->samples[m->nsamples - 1].target, sizeof m->samples[0].target, id, strlen (id));
    else if (s_at (x, "data", "cq"))
        x->collect = true;
}

static void XMLCALL
s_xml_text (void *ud, const char *s, int len)
{
    s_xml_t *x = ud;
    if (!x->collect || len <= 0)
        return;
    size_t room = sizeof x->text - 1 - x->text_len;
    size_t n = (size_t)len < room ? (size_t)len : room;
    memcpy (x->text + x->text_len, s, n);
    x->text_len += n;
}

static void XMLCALL
s_xml_end (void *ud, const char *el)
{
    (void)el;
    s_xml_t *x = ud;
    if (x->depth > S_XML_DEPTH) {
        x->depth--;
        return;
    }
    capsule_pcr_meta_t *m = x->meta;
    if (x->collect) {
        if (s_at (x, "run", "instrument") && !m->instrument_type[0])
            s_copy (m->instrument_type, sizeof m->instrument_type, x->text, x->text_len);
        else if (s_at (x, "run", "runDate") && !m->run_end[0])
            s_copy (m->run_end, sizeof m->run_end, x->text, x->text_len);
        else if (s_at (x, "data", "cq") && m->nsamples)
            s_copy_ct (m->samples[m->nsamples - 1].ct, sizeof m->samples[0].ct, x->text,
                       x->text_len);
    }
    x->collect = false;
    x->text_len = 0;
    x->depth--;
}

static int
s_parse_rdml (const char *name, const uint8_t *data, size_t len, capsule_pcr_meta_t *meta)
{
    snprintf (meta->format, sizeof meta->format, "rdml");
    zip_error_t zerr;
    zip_error_init (&zerr);
    zip_source_t *src = zip_source_buffer_create (data, len, 0, &zerr);
    zip_t *za = src ? zip_open_from_source (src, ZIP_RDONLY | ZIP_CHECKCONS, &zerr) : NULL;
    int rc = 0;
    if (!za) {
        rc = s_fail (meta, CAPSULE_ERR_META_ZIP, "zip: %s", zip_error_strerror (&zerr));
        zip_source_free (src);
        zip_error_fini (&zerr);
        return rc;
    }
    zip_error_fini (&zerr);
    zip_int64_t idx = zip_name_locate (za, "rdml_data.xml", 0);
    zip_file_t *zf = idx >= 0 ? zip_fopen_index (za, (zip_uint64_t)idx, 0) : NULL;
    if (!zf) {
        rc = s_fail (meta, CAPSULE_ERR_META_ZIP, "no readable rdml_data.xml in the archive");
        goto out_close;
    }
    s_xml_t x = { .meta = meta };
    XML_Parser parser = XML_ParserCreate (NULL);
    if (!parser)
        abort ();
    XML_SetUserData (parser, &x);
    XML_SetElementHandler (parser, s_xml_start, s_xml_end);
    XML_SetCharacterDataHandler (parser, s_xml_text);
    char buf[16384];
    size_t total = 0;
    for (;;) {
        zip_int64_t n = zip_fread (zf, buf, sizeof buf);
        if (n < 0) {
            rc = s_fail (meta, CAPSULE_ERR_META_ZIP, "rdml_data.xml: %s",
                         zip_error_strerror (zip_file_get_error (zf)));
            break;
        }
        total += (size_t)n;
        if (total > CAPSULE_PCR_RDML_MAX) {
            rc = s_fail (meta, CAPSULE_ERR_META_ZIP, "rdml_data.xml is larger than %u bytes",
                         CAPSULE_PCR_RDML_MAX);
            break;
        }
        if (XML_Parse (parser, buf, (int)n, n == 0) != XML_STATUS_OK) {
            rc = s_fail (meta, CAPSULE_ERR_META_XML, "rdml_data.xml line %lu: %s",
                         (unsigned long)XML_GetCurrentLineNumber (parser),
                         XML_ErrorString (XML_GetErrorCode (parser)));
            break;
        }
        if (n == 0)
            break;
    }
    XML_ParserFree (parser);
    zip_fclose (zf);
    if (rc == 0 && !x.rdml_root)
        rc = s_fail (meta, CAPSULE_ERR_META_FORMAT, "rdml_data.xml's root element is not rdml");
    if (rc == 0 && x.overflow)
        rc = s_fail (meta, CAPSULE_ERR_META_SYNTAX, "more than %d reactions or nested too deeply",
                     CAPSULE_PCR_SAMPLES_MAX);
    if (rc == 0) {
        s_copy (meta->experiment_file, sizeof meta->experiment_file, name, strlen (name));
        meta->parsed = true;
    }
out_close:
    zip_discard (za);
    return rc;
}

int
capsule_pcr_meta_parse (const char *name, const uint8_t *data, size_t len, capsule_pcr_meta_t *meta)
{
    memset (meta, 0, sizeof *meta);
    snprintf (meta->format, sizeof meta->format, "unknown");
    if (len >= 4 && memcmp (data, "PK\x03\x04", 4) == 0)
        return s_parse_rdml (name, data, len, meta);
    if (!capsule_utf8_valid (data, len) || memchr (data, '\0', len))
        return s_fail (meta, CAPSULE_ERR_META_ENCODING, "not UTF-8 text");
    return s_parse_ab (name, (const char *)data, len, meta);
}

static void
s_str (wd_writer_t *w, const char *key, const char *value)
{
    wd_writer_key (w, key);
    wd_writer_cstr (w, value);
}

void
capsule_pcr_meta_write (wd_writer_t *w, const capsule_pcr_meta_t *meta)
{
    wd_writer_map (w, 9);
    s_str (w, "experiment_file", meta->experiment_file);
    s_str (w, "experiment_name", meta->experiment_name);
    s_str (w, "format", meta->format);
    s_str (w, "instrument_serial", meta->instrument_serial);
    s_str (w, "instrument_type", meta->instrument_type);
    wd_writer_key (w, "parsed");
    wd_writer_bool (w, meta->parsed);
    s_str (w, "reason", meta->reason);
    s_str (w, "run_end", meta->run_end);
    wd_writer_key (w, "samples");
    wd_writer_array (w, meta->nsamples);
    for (size_t i = 0; i < meta->nsamples; i++) {
        const capsule_pcr_sample_t *s = &meta->samples[i];
        wd_writer_map (w, 4);
        s_str (w, "ct", s->ct);
        s_str (w, "sample", s->sample);
        s_str (w, "target", s->target);
        s_str (w, "well", s->well);
    }
}
