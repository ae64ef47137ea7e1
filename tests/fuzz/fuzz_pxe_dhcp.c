/*
 * fuzz_pxe_dhcp: libFuzzer harness for the DHCP packet parser (every
 * datagram on ports 67 and 4011 goes through it first) and for the boot
 * file choice that follows. The parser must never crash or read out of
 * bounds, must return a pxe result code on rejection, and an accepted
 * packet must be self-consistent: every collected option lies inside the
 * collected data, the derived fields agree with the options, and the
 * reply the server would build from it parses again.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "pxe_dhcp.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static pxe_dhcp_packet_t s_pkt, s_back;

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    int rc = pxe_dhcp_parse (data, size, &s_pkt);
    if (rc) {
        assert (rc > PXE_ERR_FIRST_ && rc < PXE_ERR_LAST_);
        return 0;
    }
    assert (size >= PXE_DHCP_MIN_LEN && size <= PXE_DHCP_PACKET_MAX);
    assert (s_pkt.data_len <= size);
    for (unsigned c = 0; c < 256; c++) {
        size_t len;
        const uint8_t *v = pxe_dhcp_option (&s_pkt, (uint8_t)c, &len);
        if (v)
            assert (v >= s_pkt.data && v + len <= s_pkt.data + s_pkt.data_len);
    }
    assert (s_pkt.message_type <= PXE_DHCP_INFORM);
    assert (!s_pkt.has_uuid || s_pkt.uuid[0] == 0);
    assert (strlen (s_pkt.file) < sizeof s_pkt.file && strlen (s_pkt.sname) < sizeof s_pkt.sname);

    pxe_dhcp_files_t files = { .bios = "undionly.kpxe",
                               .efi_x64 = "ipxe.efi",
                               .efi_arm64 = "ipxe-arm64.efi",
                               .http_x64 = "http://192.0.2.1/ipxe.efi",
                               .ipxe = "http://192.0.2.1/boot.ipxe" };
    const char *vc = NULL;
    const char *file = pxe_dhcp_boot_file (&files, &s_pkt, &vc);

    pxe_dhcp_reply_t r;
    memset (&r, 0, sizeof r);
    r.message_type = PXE_DHCP_OFFER;
    r.xid = s_pkt.xid;
    r.flags = s_pkt.flags;
    memcpy (r.chaddr, s_pkt.chaddr, 16);
    r.server_id.s_addr = htonl (0xc0000201);
    r.lease_time = 3600;
    r.vendor_class = vc;
    r.boot_file = file;
    r.has_uuid = s_pkt.has_uuid;
    memcpy (r.uuid, s_pkt.uuid, 17);
    r.max_size = s_pkt.max_size;
    uint8_t out[PXE_DHCP_PACKET_MAX];
    size_t len;
    if (pxe_dhcp_build (&r, out, sizeof out, &len) == 0) {
        assert (pxe_dhcp_parse (out, len, &s_back) == 0);
        assert (s_back.xid == s_pkt.xid && s_back.message_type == PXE_DHCP_OFFER);
        assert (s_back.has_uuid == s_pkt.has_uuid);
    }
    return 0;
}
