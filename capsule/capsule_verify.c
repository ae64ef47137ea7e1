/*
 * capsule_verify: offline bundle and checkpoint verification with libsodium
 * only. The msgpack reader here is deliberately small: capsule_msgpack_
 * canonical() validates a whole buffer against the canonical rules first,
 * after which the s_mp_* accessors can walk it without re-checking
 * encodings, only types and lengths.
 */
#include "capsule_verify.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "capsule_merkle.h"
#include "capsule_mp.h"
#include "wd_bytes.h" /* header only: no link dependency */

static const char *const s_messages[] = {
#define S_MSG(name, msg) msg,
    CAPSULE_VERIFY_TABLE (S_MSG)
#undef S_MSG
};
static const char *const s_names[] = {
#define S_NAME(name, msg) #name,
    CAPSULE_VERIFY_TABLE (S_NAME)
#undef S_NAME
};

const char *
capsule_verify_strerror (int code)
{
    return code >= 0 && code < CAPSULE_VERIFY_LAST_ ? s_messages[code] : "unknown verdict";
}

const char *
capsule_verify_name (int code)
{
    return code >= 0 && code < CAPSULE_VERIFY_LAST_ ? s_names[code] : "CAPSULE_VERIFY_UNKNOWN";
}

static void
s_detail (char *detail, size_t size, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));
static void
s_detail (char *detail, size_t size, const char *fmt, ...)
{
    if (!detail || size == 0)
        return;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (detail, size, fmt, ap);
    va_end (ap);
}

void
capsule_signing_digest (uint8_t out[32], const char *type, const uint8_t chain[32],
                        const uint8_t *body, size_t len)
{
    crypto_hash_sha256_state st;
    const uint8_t zero = 0;
    crypto_hash_sha256_init (&st);
    crypto_hash_sha256_update (&st, (const uint8_t *)"warden/1", 8);
    crypto_hash_sha256_update (&st, &zero, 1);
    crypto_hash_sha256_update (&st, (const uint8_t *)type, strlen (type));
    crypto_hash_sha256_update (&st, &zero, 1);
    crypto_hash_sha256_update (&st, chain, 32);
    crypto_hash_sha256_update (&st, body, len);
    crypto_hash_sha256_final (&st, out);
}

/* ---- canonical msgpack ---------------------------------------------------------------------- */

bool
capsule_utf8_valid (const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t extra;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf)
            extra = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            extra = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            extra = 3, cp = c & 0x07;
        else
            return false;
        if (n - i <= extra)
            return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((extra == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
        i += extra + 1;
    }
    return true;
}

typedef enum { S_NIL, S_BOOL, S_UINT, S_INT, S_STR, S_BIN, S_ARRAY, S_MAP, S_BAD } s_kind_t;

/* Reads the header of the value at *p: its kind, its scalar value or
   length/count, and whether the header is the shortest one. */
static s_kind_t
s_header (const uint8_t **p, const uint8_t *end, uint64_t *n, bool *shortest)
{
    if (*p >= end)
        return S_BAD;
    uint8_t b = *(*p)++;
    size_t hdr = 0;
    s_kind_t kind;
    *shortest = true;
    if (b <= 0x7f) {
        *n = b;
        return S_UINT;
    }
    if (b >= 0xe0) {
        *n = (uint64_t)(int64_t)(int8_t)b;
        return S_INT;
    }
    if (b >= 0x80 && b <= 0x8f) {
        *n = b & 0x0f;
        return S_MAP;
    }
    if (b >= 0x90 && b <= 0x9f) {
        *n = b & 0x0f;
        return S_ARRAY;
    }
    if (b >= 0xa0 && b <= 0xbf) {
        *n = b & 0x1f;
        return S_STR;
    }
    switch (b) {
        case 0xc0:
            return S_NIL;
        case 0xc2:
        case 0xc3:
            *n = b == 0xc3;
            return S_BOOL;
        case 0xc4:
        case 0xc5:
        case 0xc6:
            kind = S_BIN, hdr = (size_t)1 << (b - 0xc4);
            break;
        case 0xcc:
        case 0xcd:
        case 0xce:
        case 0xcf:
            kind = S_UINT, hdr = (size_t)1 << (b - 0xcc);
            break;
        case 0xd0:
        case 0xd1:
        case 0xd2:
        case 0xd3:
            kind = S_INT, hdr = (size_t)1 << (b - 0xd0);
            break;
        case 0xd9:
        case 0xda:
        case 0xdb:
            kind = S_STR, hdr = (size_t)1 << (b - 0xd9);
            break;
        case 0xdc:
        case 0xdd:
            kind = S_ARRAY, hdr = (size_t)2 << (b - 0xdc);
            break;
        case 0xde:
        case 0xdf:
            kind = S_MAP, hdr = (size_t)2 << (b - 0xde);
            break;
        default:
            return S_BAD; /* floats, extensions, 0xc1 */
    }
    if ((size_t)(end - *p) < hdr)
        return S_BAD;
    uint64_t v = wd_get_be (*p, hdr);
    *p += hdr;
    if (kind == S_INT) {
        int64_t sv = hdr == 1   ? (int8_t)v
                     : hdr == 2 ? (int16_t)v
                     : hdr == 4 ? (int32_t)v
                                : (int64_t)v;
        *n = (uint64_t)sv;
        int64_t floor = hdr == 1 ? -32 : hdr == 2 ? -128 : hdr == 4 ? -32768 : -2147483648LL;
        *shortest = sv < floor;
        return S_INT;
    }
    uint64_t min;
    if (kind == S_UINT)
        min = hdr == 1 ? 0x80 : hdr == 2 ? 0x100 : hdr == 4 ? 0x10000 : 0x100000000ULL;
    else if (kind == S_BIN)
        min = hdr == 1 ? 0 : hdr == 2 ? 0x100 : 0x10000;
    else if (kind == S_STR)
        min = hdr == 1 ? 32 : hdr == 2 ? 0x100 : 0x10000;
    else
        min = hdr == 2 ? 16 : 0x10000;
    *shortest = v >= min;
    *n = v;
    return kind;
}

static bool
s_check (const uint8_t **p, const uint8_t *end, int depth)
{
    uint64_t n;
    bool shortest;
    s_kind_t kind = s_header (p, end, &n, &shortest);
    if (kind == S_BAD || !shortest)
        return false;
    if (kind == S_STR || kind == S_BIN) {
        if ((uint64_t)(end - *p) < n)
            return false;
        if (kind == S_STR && !capsule_utf8_valid (*p, (size_t)n))
            return false;
        *p += n;
        return true;
    }
    if (kind != S_ARRAY && kind != S_MAP)
        return true;
    if (depth >= 16 || n > (uint64_t)(end - *p))
        return false;
    const uint8_t *last_key = NULL;
    uint64_t last_len = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (kind == S_MAP) {
            uint64_t klen;
            if (s_header (p, end, &klen, &shortest) != S_STR || !shortest ||
                (uint64_t)(end - *p) < klen || !capsule_utf8_valid (*p, (size_t)klen))
                return false;
            if (last_key) {
                size_t m = last_len < klen ? (size_t)last_len : (size_t)klen;
                int c = memcmp (last_key, *p, m);
                if (c > 0 || (c == 0 && last_len >= klen))
                    return false;
            }
            last_key = *p;
            last_len = klen;
            *p += klen;
        }
        if (!s_check (p, end, depth + 1))
            return false;
    }
    return true;
}

bool
capsule_msgpack_canonical (const uint8_t *buf, size_t len)
{
    const uint8_t *p = buf;
    return s_check (&p, buf + len, 0) && p == buf + len;
}

/* A view of one value inside an already-validated buffer. */
typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} s_val_t;

static bool
s_skip (const uint8_t **p, const uint8_t *end)
{
    return s_check (p, end, 0);
}

/* Looks key up in the map v; returns false when v is not a map or lacks
   key. */
static bool
s_get (s_val_t v, const char *key, s_val_t *out)
{
    uint64_t n;
    bool shortest;
    const uint8_t *p = v.p;
    if (s_header (&p, v.end, &n, &shortest) != S_MAP)
        return false;
    size_t klen = strlen (key);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len;
        if (s_header (&p, v.end, &len, &shortest) != S_STR)
            return false;
        bool match = len == klen && memcmp (p, key, klen) == 0;
        p += len;
        const uint8_t *start = p;
        if (!s_skip (&p, v.end))
            return false;
        if (match) {
            *out = (s_val_t){ start, p };
            return true;
        }
    }
    return false;
}

static bool
s_count (s_val_t v, s_kind_t want, uint64_t *n)
{
    bool shortest;
    const uint8_t *p = v.p;
    return s_header (&p, v.end, n, &shortest) == want;
}

static bool
s_bytes (s_val_t v, s_kind_t want, const uint8_t **data, size_t *len)
{
    uint64_t n;
    bool shortest;
    const uint8_t *p = v.p;
    if (s_header (&p, v.end, &n, &shortest) != want || n > (uint64_t)(v.end - p))
        return false;
    *data = p;
    *len = (size_t)n;
    return true;
}

static bool
s_get_bytes (s_val_t map, const char *key, s_kind_t want, const uint8_t **data, size_t *len)
{
    s_val_t v;
    return s_get (map, key, &v) && s_bytes (v, want, data, len);
}

static bool
s_get_fixed (s_val_t map, const char *key, uint8_t *out, size_t want)
{
    const uint8_t *data;
    size_t len;
    if (!s_get_bytes (map, key, S_BIN, &data, &len) || len != want)
        return false;
    memcpy (out, data, want);
    return true;
}

/* Copies a string field into out (size bytes, NUL-terminated, cut to fit
   on a UTF-8 boundary is not needed: summaries only). */
static bool
s_get_cstr (s_val_t map, const char *key, char *out, size_t size)
{
    const uint8_t *data;
    size_t len;
    if (!s_get_bytes (map, key, S_STR, &data, &len))
        return false;
    if (len >= size)
        len = size - 1;
    memcpy (out, data, len);
    out[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if (out[i] == '\0')
            return false;
    return true;
}

static bool
s_get_uint (s_val_t map, const char *key, uint64_t *out)
{
    s_val_t v;
    return s_get (map, key, &v) && s_count (v, S_UINT, out);
}

static bool
s_str_is (s_val_t map, const char *key, const char *want)
{
    const uint8_t *data;
    size_t len;
    return s_get_bytes (map, key, S_STR, &data, &len) && len == strlen (want) &&
           memcmp (data, want, len) == 0;
}

/* ---- envelopes ------------------------------------------------------------------------------- */

typedef capsule_envelope_t s_env_t; /* capsule_mp.h */

/* Decodes a canonical envelope {body, chain, from, sig, type, v:1}. */
static bool
s_env_decode (const uint8_t *buf, size_t len, s_env_t *env)
{
    if (!capsule_msgpack_canonical (buf, len))
        return false;
    s_val_t v = { buf, buf + len };
    uint64_t n, version;
    if (!s_count (v, S_MAP, &n) || n != 6 || !s_get_uint (v, "v", &version) || version != 1 ||
        !s_get_fixed (v, "chain", env->chain, 32) || !s_get_fixed (v, "from", env->from, 32) ||
        !s_get_fixed (v, "sig", env->sig, 64) ||
        !s_get_bytes (v, "body", S_BIN, &env->body, &env->body_len) ||
        !s_get_cstr (v, "type", env->type, sizeof env->type))
        return false;
    return capsule_msgpack_canonical (env->body, env->body_len);
}

static bool
s_env_sig_ok (const s_env_t *env, const uint8_t pk[32])
{
    uint8_t digest[32];
    capsule_signing_digest (digest, env->type, env->chain, env->body, env->body_len);
    return crypto_sign_verify_detached (env->sig, digest, 32, pk) == 0;
}

/* ---- checkpoints ----------------------------------------------------------------------------- */

static bool
s_origin_valid (const char *origin)
{
    size_t n = strlen (origin);
    if (n == 0 || n > CAPSULE_ORIGIN_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)origin[i] <= 0x20 || origin[i] == 0x7f)
            return false;
    return true;
}

size_t
capsule_checkpoint_body (char *out, size_t size, const char *origin, uint64_t tree_size,
                         const uint8_t root[32])
{
    if (!s_origin_valid (origin))
        return 0;
    char b64[sodium_base64_ENCODED_LEN (32, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64 (b64, sizeof b64, root, 32, sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf (out, size, "%s\n%llu\n%s\n", origin, (unsigned long long)tree_size, b64);
    return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

void
capsule_checkpoint_digest (uint8_t out[32], const char *body, size_t len)
{
    /* the body as one canonical msgpack string: str8 or str16 header (a body
       is at most CAPSULE_CHECKPOINT_BODY_MAX bytes, always 32 or more) */
    uint8_t buf[3 + CAPSULE_CHECKPOINT_BODY_MAX];
    size_t h;
    if (len < 32)
        buf[0] = (uint8_t)(0xa0 | len), h = 1;
    else if (len < 256)
        buf[0] = 0xd9, buf[1] = (uint8_t)len, h = 2;
    else
        buf[0] = 0xda, buf[1] = (uint8_t)(len >> 8), buf[2] = (uint8_t)len, h = 3;
    if (len > CAPSULE_CHECKPOINT_BODY_MAX)
        len = CAPSULE_CHECKPOINT_BODY_MAX; /* bodies are checked before; never reached */
    memcpy (buf + h, body, len);
    static const uint8_t zero_chain[32];
    capsule_signing_digest (out, CAPSULE_CHECKPOINT_TYPE, zero_chain, buf, h + len);
}

void
capsule_checkpoint_key_id (uint8_t out[4], const char *origin, const uint8_t pk[32])
{
    crypto_hash_sha256_state st;
    uint8_t h[32];
    const uint8_t sep[2] = { 0x0a, CAPSULE_NOTE_SIG_ALG };
    crypto_hash_sha256_init (&st);
    crypto_hash_sha256_update (&st, (const uint8_t *)origin, strlen (origin));
    crypto_hash_sha256_update (&st, sep, 2);
    crypto_hash_sha256_update (&st, pk, 32);
    crypto_hash_sha256_final (&st, h);
    memcpy (out, h, 4);
}

#define S_EM_DASH "\xe2\x80\x94"

size_t
capsule_checkpoint_note (char *out, size_t size, const char *body, size_t body_len,
                         const char *origin, const uint8_t pk[32], const uint8_t sig[64])
{
    uint8_t blob[68];
    capsule_checkpoint_key_id (blob, origin, pk);
    memcpy (blob + 4, sig, 64);
    char b64[sodium_base64_ENCODED_LEN (68, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64 (b64, sizeof b64, blob, sizeof blob, sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf (out, size, "%.*s\n" S_EM_DASH " %s %s\n", (int)body_len, body, origin, b64);
    return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

/* Strict base64 (standard alphabet, padded, canonical): decodes exactly
   want bytes. */
static bool
s_b64 (const char *s, size_t len, uint8_t *out, size_t want)
{
    size_t got;
    const char *end;
    if (len != sodium_base64_ENCODED_LEN (want, sodium_base64_VARIANT_ORIGINAL) - 1)
        return false;
    if (sodium_base642bin (out, want, s, len, NULL, &got, &end, sodium_base64_VARIANT_ORIGINAL) !=
            0 ||
        got != want || end != s + len)
        return false;
    char again[sodium_base64_ENCODED_LEN (68, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64 (again, sizeof again, out, want, sodium_base64_VARIANT_ORIGINAL);
    return memcmp (again, s, len) == 0;
}

capsule_verify_t
capsule_checkpoint_open (const char *note, size_t len, const uint8_t pk[32],
                         capsule_checkpoint_t *out)
{
    memset (out, 0, sizeof *out);
    if (len > CAPSULE_CHECKPOINT_MAX || memchr (note, '\0', len))
        return CAPSULE_VERIFY_CHECKPOINT_FORMAT;
    /* body: three lines, then an empty line */
    const char *p = note, *end = note + len, *lines[3];
    size_t lens[3];
    for (int i = 0; i < 3; i++) {
        const char *nl = memchr (p, '\n', (size_t)(end - p));
        if (!nl)
            return CAPSULE_VERIFY_CHECKPOINT_FORMAT;
        lines[i] = p;
        lens[i] = (size_t)(nl - p);
        p = nl + 1;
    }
    size_t body_len = (size_t)(p - note);
    if (p >= end || *p != '\n' || body_len > CAPSULE_CHECKPOINT_BODY_MAX)
        return CAPSULE_VERIFY_CHECKPOINT_FORMAT;
    p++;
    if (lens[0] == 0 || lens[0] > CAPSULE_ORIGIN_MAX)
        return CAPSULE_VERIFY_CHECKPOINT_FORMAT;
    memcpy (out->origin, lines[0], lens[0]);
    if (!s_origin_valid (out->origin))
        return CAPSULE_VERIFY_CHECKPOINT_FORMAT;
    if (lens[1] == 0 || lens[1] > 20 || (lines[1][0] == '0' && lens[1] > 1))
        return CAPSULE_VERIFY_CHECKPOINT_FORMAT;
    uint64_t size = 0;
    for (size_t i = 0; i < lens[1]; i++) {
        char c = lines[1][i];
        if (c < '0' || c > '9' || size > (UINT64_MAX - (uint64_t)(c - '0')) / 10)
            return CAPSULE_VERIFY_CHECKPOINT_FORMAT;
        size = size * 10 + (uint64_t)(c - '0');
    }
    out->size = size;
    if (!s_b64 (lines[2], lens[2], out->root, 32))
        return CAPSULE_VERIFY_CHECKPOINT_FORMAT;
    /* signature lines: "— <name> <base64>\n", at least one */
    uint8_t want_id[4];
    capsule_checkpoint_key_id (want_id, out->origin, pk);
    bool found = false, sig_ok = false;
    if (p >= end)
        return CAPSULE_VERIFY_CHECKPOINT_FORMAT;
    while (p < end) {
        const char *nl = memchr (p, '\n', (size_t)(end - p));
        if (!nl || (size_t)(nl - p) < 4 || memcmp (p, S_EM_DASH " ", 4) != 0)
            return CAPSULE_VERIFY_CHECKPOINT_FORMAT;
        const char *name = p + 4;
        const char *sp = memchr (name, ' ', (size_t)(nl - name));
        if (!sp || sp == name)
            return CAPSULE_VERIFY_CHECKPOINT_FORMAT;
        uint8_t blob[68];
        const char *b64 = sp + 1;
        size_t b64_len = (size_t)(nl - b64);
        bool ours = (size_t)(sp - name) == lens[0] && memcmp (name, out->origin, lens[0]) == 0;
        if (ours && s_b64 (b64, b64_len, blob, sizeof blob) && memcmp (blob, want_id, 4) == 0) {
            found = true;
            uint8_t digest[32];
            capsule_checkpoint_digest (digest, note, body_len);
            if (crypto_sign_verify_detached (blob + 4, digest, 32, pk) == 0)
                sig_ok = true;
        }
        p = nl + 1;
    }
    if (!found)
        return CAPSULE_VERIFY_CHECKPOINT_KEY;
    return sig_ok ? CAPSULE_VERIFY_OK : CAPSULE_VERIFY_CHECKPOINT_SIGNATURE;
}

/* ---- bundles --------------------------------------------------------------------------------- */

static bool
s_hex_lower (const uint8_t *s, size_t len, uint8_t *out, size_t want)
{
    if (len != 2 * want)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    size_t got;
    return sodium_hex2bin (out, want, (const char *)s, len, NULL, &got, NULL) == 0 && got == want;
}

capsule_verify_t
capsule_bundle_verify (const uint8_t *buf, size_t len, const uint8_t *original, size_t original_len,
                       const uint8_t (*trusted)[32], size_t ntrusted, capsule_bundle_info_t *info,
                       char *detail, size_t detail_len)
{
    capsule_bundle_info_t scratch;
    if (!info)
        info = &scratch;
    memset (info, 0, sizeof *info);
    s_detail (detail, detail_len, "%s", "");

    /* 1. the bundle's own shape */
    if (!capsule_msgpack_canonical (buf, len)) {
        s_detail (detail, detail_len, "not one canonical msgpack value");
        return CAPSULE_VERIFY_BUNDLE_FORMAT;
    }
    s_val_t b = { buf, buf + len };
    uint64_t n, version, index;
    if (!s_count (b, S_MAP, &n) || !s_get_uint (b, "v", &version) ||
        !s_str_is (b, "type", CAPSULE_BUNDLE_TYPE)) {
        s_detail (detail, detail_len, "not a map with type \"%s\" and v", CAPSULE_BUNDLE_TYPE);
        return CAPSULE_VERIFY_BUNDLE_FORMAT;
    }
    if (version != CAPSULE_BUNDLE_VERSION) {
        s_detail (detail, detail_len, "version %llu", (unsigned long long)version);
        return CAPSULE_VERIFY_BUNDLE_VERSION;
    }
    const uint8_t *cert, *envelope, *note, *raw = NULL;
    size_t cert_len, envelope_len, note_len, raw_len = 0;
    s_val_t proof_v, raw_v;
    uint64_t proof_count;
    if (n != 8 || !s_get_bytes (b, "cert", S_BIN, &cert, &cert_len) ||
        !s_get_bytes (b, "checkpoint", S_STR, &note, &note_len) ||
        !s_get_bytes (b, "envelope", S_BIN, &envelope, &envelope_len) ||
        !s_get_uint (b, "index", &index) || !s_get (b, "proof", &proof_v) ||
        !s_count (proof_v, S_ARRAY, &proof_count) || proof_count > CAPSULE_MERKLE_PROOF_MAX ||
        !s_get (b, "raw", &raw_v)) {
        s_detail (detail, detail_len,
                  "fields must be exactly cert, checkpoint, envelope, index, proof, raw, type, v");
        return CAPSULE_VERIFY_BUNDLE_FORMAT;
    }
    if (s_bytes (raw_v, S_BIN, &raw, &raw_len))
        info->raw_included = true;
    else if (!(raw_v.end - raw_v.p == 1 && raw_v.p[0] == 0xc0)) {
        s_detail (detail, detail_len, "raw is neither bytes nor nil");
        return CAPSULE_VERIFY_BUNDLE_FORMAT;
    }
    capsule_merkle_hash_t proof[CAPSULE_MERKLE_PROOF_MAX];
    {
        const uint8_t *p = proof_v.p;
        uint64_t cnt;
        bool shortest;
        (void)s_header (&p, proof_v.end, &cnt, &shortest);
        for (uint64_t i = 0; i < proof_count; i++) {
            s_val_t item = { p, proof_v.end };
            const uint8_t *h;
            size_t hl;
            if (!s_bytes (item, S_BIN, &h, &hl) || hl != 32) {
                s_detail (detail, detail_len, "proof hash %llu is not 32 bytes",
                          (unsigned long long)i);
                return CAPSULE_VERIFY_BUNDLE_FORMAT;
            }
            memcpy (proof[i], h, 32);
            p = h + 32;
        }
    }
    info->index = index;

    /* 2. the node certificate: self-signed node-cert envelope */
    s_env_t cenv;
    uint8_t sign_pk[32];
    static const uint8_t zero_chain[32];
    if (!s_env_decode (cert, cert_len, &cenv) || strcmp (cenv.type, "node-cert") != 0 ||
        sodium_memcmp (cenv.chain, zero_chain, 32) != 0) {
        s_detail (detail, detail_len, "not a node-cert envelope");
        return CAPSULE_VERIFY_CERT_INVALID;
    }
    s_val_t cbody = { cenv.body, cenv.body + cenv.body_len };
    if (!s_get_fixed (cbody, "sign_pk", sign_pk, 32) ||
        !s_get_cstr (cbody, "name", info->node, sizeof info->node) ||
        !s_get_cstr (cbody, "key_protection", info->key_protection, sizeof info->key_protection)) {
        s_detail (detail, detail_len, "certificate body lacks sign_pk, name or key_protection");
        return CAPSULE_VERIFY_CERT_INVALID;
    }
    if (sodium_memcmp (sign_pk, cenv.from, 32) != 0 || !s_env_sig_ok (&cenv, sign_pk)) {
        s_detail (detail, detail_len, "certificate is not signed by its own key");
        return CAPSULE_VERIFY_CERT_INVALID;
    }
    sodium_bin2hex (info->sign_pk, sizeof info->sign_pk, sign_pk, 32);

    /* 3. pinning */
    if (trusted) {
        for (size_t i = 0; i < ntrusted && !info->key_pinned; i++)
            info->key_pinned = sodium_memcmp (trusted[i], sign_pk, 32) == 0;
        if (!info->key_pinned) {
            s_detail (detail, detail_len, "node key %s", info->sign_pk);
            return CAPSULE_VERIFY_KEY_UNTRUSTED;
        }
    }

    /* 4. the signed statement */
    s_env_t senv;
    if (!s_env_decode (envelope, envelope_len, &senv)) {
        s_detail (detail, detail_len, "envelope is not a canonical signed envelope");
        return CAPSULE_VERIFY_STATEMENT_FORMAT;
    }
    if (strcmp (senv.type, CAPSULE_PCR_TYPE) != 0) {
        s_detail (detail, detail_len, "envelope type \"%s\"", senv.type);
        return CAPSULE_VERIFY_STATEMENT_TYPE;
    }
    if (sodium_memcmp (senv.from, sign_pk, 32) != 0) {
        s_detail (detail, detail_len, "statement signer differs from the certificate's key");
        return CAPSULE_VERIFY_STATEMENT_SIGNER;
    }
    if (!s_env_sig_ok (&senv, sign_pk))
        return CAPSULE_VERIFY_STATEMENT_SIGNATURE;
    s_val_t st = { senv.body, senv.body + senv.body_len }, subjects, subject, digest, pred, inst;
    uint64_t nsubj;
    const uint8_t *hex;
    size_t hex_len;
    uint8_t subject_sha[32];
    if (!s_str_is (st, "_type", CAPSULE_STATEMENT_TYPE) ||
        !s_str_is (st, "predicateType", CAPSULE_PREDICATE_TYPE) ||
        !s_get (st, "subject", &subjects) || !s_count (subjects, S_ARRAY, &nsubj) || nsubj != 1 ||
        !s_get (st, "predicate", &pred)) {
        s_detail (detail, detail_len, "not an in-toto v1 statement of predicate type %s",
                  CAPSULE_PREDICATE_TYPE);
        return CAPSULE_VERIFY_STATEMENT_FORMAT;
    }
    subject = (s_val_t){ subjects.p + 1, subjects.end };
    if (!s_get_cstr (subject, "name", info->name, sizeof info->name) ||
        !s_get (subject, "digest", &digest) ||
        !s_get_bytes (digest, "sha256", S_STR, &hex, &hex_len) ||
        !s_hex_lower (hex, hex_len, subject_sha, 32)) {
        s_detail (detail, detail_len, "subject lacks a name or a lowercase-hex sha256 digest");
        return CAPSULE_VERIFY_STATEMENT_FORMAT;
    }
    memcpy (info->sha256, hex, 64);
    (void)s_get_cstr (pred, "received", info->received, sizeof info->received);
    (void)s_get_cstr (pred, "channel", info->channel, sizeof info->channel);
    info->has_seq = s_get_uint (pred, "seq", &info->seq);
    if (s_get (pred, "instrument", &inst)) {
        (void)s_get_cstr (inst, "instrument_type", info->instrument_type,
                          sizeof info->instrument_type);
        (void)s_get_cstr (inst, "instrument_serial", info->instrument_serial,
                          sizeof info->instrument_serial);
        (void)s_get_cstr (inst, "experiment_name", info->experiment_name,
                          sizeof info->experiment_name);
        s_val_t parsed;
        info->parsed = s_get (inst, "parsed", &parsed) && parsed.p[0] == 0xc3;
    }

    /* 5. the bytes */
    uint8_t h[32];
    if (raw) {
        crypto_hash_sha256 (h, raw, raw_len);
        if (sodium_memcmp (h, subject_sha, 32) != 0)
            return CAPSULE_VERIFY_RAW_MISMATCH;
    }
    if (original) {
        crypto_hash_sha256 (h, original, original_len);
        if (sodium_memcmp (h, subject_sha, 32) != 0)
            return CAPSULE_VERIFY_ORIGINAL_MISMATCH;
        info->original_checked = true;
    }

    /* 6. the checkpoint, signed by the same node key */
    capsule_checkpoint_t cp;
    capsule_verify_t rc = capsule_checkpoint_open ((const char *)note, note_len, sign_pk, &cp);
    if (rc != CAPSULE_VERIFY_OK)
        return rc;
    info->tree_size = cp.size;
    sodium_bin2hex (info->root, sizeof info->root, cp.root, 32);
    memcpy (info->origin, cp.origin, sizeof info->origin);

    /* 7. the statement is entry index of that tree */
    capsule_merkle_hash_t leaf;
    capsule_merkle_leaf (leaf, envelope, envelope_len);
    if (!capsule_merkle_inclusion_verify (leaf, index, cp.size,
                                          (const capsule_merkle_hash_t *)proof, (size_t)proof_count,
                                          cp.root)) {
        s_detail (detail, detail_len, "entry %llu of %llu, %llu proof hashes",
                  (unsigned long long)index, (unsigned long long)cp.size,
                  (unsigned long long)proof_count);
        return CAPSULE_VERIFY_INCLUSION;
    }
    return CAPSULE_VERIFY_OK;
}

/* ---- capsule_mp.h: the reader above, for capsule_ledger.c ------------------------------------ */

bool
capsule_mp_get (capsule_mp_t v, const char *key, capsule_mp_t *out)
{
    s_val_t r;
    if (!s_get ((s_val_t){ v.p, v.end }, key, &r))
        return false;
    *out = (capsule_mp_t){ r.p, r.end };
    return true;
}

bool
capsule_mp_count (capsule_mp_t v, bool map, uint64_t *n)
{
    return s_count ((s_val_t){ v.p, v.end }, map ? S_MAP : S_ARRAY, n);
}

bool
capsule_mp_bin (capsule_mp_t v, const uint8_t **data, size_t *len)
{
    return s_bytes ((s_val_t){ v.p, v.end }, S_BIN, data, len);
}

bool
capsule_mp_uint (capsule_mp_t v, uint64_t *out)
{
    return s_count ((s_val_t){ v.p, v.end }, S_UINT, out);
}

bool
capsule_mp_enter (capsule_mp_t v, uint64_t *n, capsule_mp_t *items)
{
    bool shortest;
    const uint8_t *p = v.p;
    if (s_header (&p, v.end, n, &shortest) != S_ARRAY)
        return false;
    *items = (capsule_mp_t){ p, v.end };
    return true;
}

bool
capsule_mp_next (capsule_mp_t *items, capsule_mp_t *one)
{
    const uint8_t *start = items->p;
    if (!s_skip (&items->p, items->end))
        return false;
    *one = (capsule_mp_t){ start, items->p };
    return true;
}

bool
capsule_envelope_decode (const uint8_t *buf, size_t len, capsule_envelope_t *env)
{
    return s_env_decode (buf, len, env);
}

bool
capsule_envelope_sig_ok (const capsule_envelope_t *env, const uint8_t pk[32])
{
    return s_env_sig_ok (env, pk);
}

/* ---- ledger anchors -------------------------------------------------------------------------- */

/* A canonical msgpack string header for len bytes; returns its size. */
static size_t
s_put_str_header (uint8_t *out, size_t len)
{
    if (len < 32) {
        out[0] = (uint8_t)(0xa0 | len);
        return 1;
    }
    if (len < 256) {
        out[0] = 0xd9;
        out[1] = (uint8_t)len;
        return 2;
    }
    out[0] = 0xda;
    out[1] = (uint8_t)(len >> 8);
    out[2] = (uint8_t)len;
    return 3;
}

size_t
capsule_anchor_body (uint8_t *out, size_t size, const char *note, size_t note_len)
{
    /* 82 a4 "note" <str> a1 "v" 01 */
    if (note_len > 0xffff || 1 + 5 + 3 + note_len + 3 > size)
        return 0;
    size_t n = 0;
    out[n++] = 0x82;
    out[n++] = 0xa4;
    memcpy (out + n, "note", 4);
    n += 4;
    n += s_put_str_header (out + n, note_len);
    memcpy (out + n, note, note_len);
    n += note_len;
    out[n++] = 0xa1;
    out[n++] = 'v';
    out[n++] = 0x01;
    return n;
}

bool
capsule_anchor_open (const uint8_t *record, size_t len, const uint8_t pk[32], const char *origin,
                     capsule_checkpoint_t *out)
{
    s_env_t env;
    if (!s_env_decode (record, len, &env) || strcmp (env.type, CAPSULE_ANCHOR_TYPE) != 0 ||
        sodium_memcmp (env.from, pk, 32) != 0 || !s_env_sig_ok (&env, pk))
        return false;
    s_val_t body = { env.body, env.body + env.body_len };
    uint64_t n, v;
    const uint8_t *note;
    size_t note_len;
    if (!s_count (body, S_MAP, &n) || n != 2 || !s_get_uint (body, "v", &v) || v != 1 ||
        !s_get_bytes (body, "note", S_STR, &note, &note_len))
        return false;
    return capsule_checkpoint_open ((const char *)note, note_len, pk, out) == CAPSULE_VERIFY_OK &&
           strcmp (out->origin, origin) == 0;
}

capsule_verify_t
capsule_anchor_check (const capsule_anchor_t *anchors, size_t n, uint64_t size,
                      const uint8_t root[32], const uint8_t (*proof)[32], size_t count,
                      uint64_t new_size, capsule_anchor_report_t *report, char *detail,
                      size_t detail_len)
{
    capsule_anchor_report_t scratch;
    if (!report)
        report = &scratch;
    memset (report, 0, sizeof *report);
    s_detail (detail, detail_len, "%s", "");
    report->anchors = n;
    const capsule_anchor_t *exact = NULL, *linked = NULL;
    for (size_t i = 0; i < n; i++) {
        const capsule_anchor_t *a = &anchors[i];
        if (a->cp.size > report->newest_size ||
            (a->cp.size == report->newest_size && a->height < report->newest_height)) {
            report->newest_size = a->cp.size;
            report->newest_height = a->height;
        }
        if (a->cp.size == size) {
            if (sodium_memcmp (a->cp.root, root, 32) != 0) {
                s_detail (detail, detail_len,
                          "the anchor at height %llu holds another root for %llu entries",
                          (unsigned long long)a->height, (unsigned long long)size);
                return CAPSULE_VERIFY_ANCHOR_CONFLICT;
            }
            if (!exact || a->height < exact->height)
                exact = a;
        }
        if (proof && a->cp.size == new_size && (!linked || a->height < linked->height))
            linked = a;
    }
    if (exact) {
        report->height = exact->height;
        report->anchored_size = size;
        report->exact = true;
        return CAPSULE_VERIFY_OK;
    }
    if (proof) {
        if (!linked) {
            s_detail (detail, detail_len, "no anchored checkpoint of %llu entries (the proof's)",
                      (unsigned long long)new_size);
            return CAPSULE_VERIFY_ANCHOR_MISSING;
        }
        if (size == 0 || size > new_size ||
            !capsule_merkle_consistency_verify (size, new_size, root, linked->cp.root,
                                                (const capsule_merkle_hash_t *)proof, count)) {
            s_detail (detail, detail_len, "from %llu to %llu entries (anchored at height %llu)",
                      (unsigned long long)size, (unsigned long long)new_size,
                      (unsigned long long)linked->height);
            return CAPSULE_VERIFY_CONSISTENCY;
        }
        report->height = linked->height;
        report->anchored_size = new_size;
        return CAPSULE_VERIFY_OK;
    }
    if (report->newest_size > size)
        s_detail (detail, detail_len,
                  "a later checkpoint (%llu entries) is anchored at height %llu: link it with "
                  "a consistency proof (wardenctl results consistency %llu %llu --output FILE)",
                  (unsigned long long)report->newest_size,
                  (unsigned long long)report->newest_height, (unsigned long long)size,
                  (unsigned long long)report->newest_size);
    else
        s_detail (detail, detail_len, "%zu anchors of this log, none of %llu entries or more", n,
                  (unsigned long long)size);
    return CAPSULE_VERIFY_ANCHOR_MISSING;
}

bool
capsule_consistency_decode (const uint8_t *buf, size_t len, uint64_t *old_size, uint64_t *new_size,
                            uint8_t (*proof)[32], size_t max, size_t *count)
{
    if (!capsule_msgpack_canonical (buf, len))
        return false;
    s_val_t m = { buf, buf + len }, arr;
    uint64_t n, v, items;
    if (!s_count (m, S_MAP, &n) || n != 5 || !s_get_uint (m, "v", &v) || v != 1 ||
        !s_str_is (m, "type", CAPSULE_CONSISTENCY_TYPE) || !s_get_uint (m, "old_size", old_size) ||
        !s_get_uint (m, "new_size", new_size) || !s_get (m, "proof", &arr) ||
        !s_count (arr, S_ARRAY, &items) || items > max || *old_size == 0 || *old_size > *new_size)
        return false;
    capsule_mp_t it, one;
    uint64_t got;
    if (!capsule_mp_enter ((capsule_mp_t){ arr.p, arr.end }, &got, &it))
        return false;
    for (uint64_t i = 0; i < got; i++) {
        const uint8_t *h;
        size_t hl;
        if (!capsule_mp_next (&it, &one) || !capsule_mp_bin (one, &h, &hl) || hl != 32)
            return false;
        memcpy (proof[i], h, 32);
    }
    *count = (size_t)got;
    return true;
}
