/*
 * Fault specs: inj_fault_parse (JSON text, as faultline-inject and the
 * agent's "fault" member take it) and, for each spec that parses, every pure
 * accessor and the packet kinds' nf_tables plan and batch, built without a
 * kernel.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/inject.h"
#include "fuzz.h"
#include "inj_int.h"
#include "nft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct inj_ctx ctx; /* no sockets: plans only read the exempt list */
    static struct fl_cidr ctl;
    struct inj_fault *f = NULL;
    struct nftp_plan *pl;
    struct fl_err err;
    char buf[512];
    json_t *j;
    size_t n;

    if (ctl.family == 0) {
        fl_cidr_parse("198.19.0.0/16", &ctl, NULL);
        ctx.exempt = &ctl;
        ctx.n_exempt = 1;
    }
    fl_err_clear(&err);
    if (inj_fault_parse((const char *)data, size, &f, &err) < 0)
        return 0;
    inj_fault_describe(f, buf, sizeof(buf));
    (void)inj_fault_kind(f);
    (void)inj_fault_needs(f);
    (void)inj_fault_cidrs(f, &n);
    (void)inj_fault_devs(f, &n);
    j = inj_fault_to_json(f);
    json_decref(j);
    if (inj_fault_needs(f) & INJ_CAP_NFTABLES) {
        pl = malloc(sizeof(*pl));
        if (pl != NULL && inj_packet_plan(&ctx, "fz", f, pl) == 0) {
            struct nftp_batch b;

            nftp_batch_init(&b, 1);
            if (nftp_build_apply(&b, pl, NULL) == 0)
                nftp_build_end(&b);
            nftp_batch_free(&b);
        }
        free(pl);
    }
    inj_fault_free(f);
    return 0;
}
