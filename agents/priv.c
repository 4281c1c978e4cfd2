/*
 * Privilege reduction. The agent starts as root only to bind its socket, open
 * its netlink sockets and recover the journal; before the first HTTP thread
 * exists it keeps just CAP_NET_ADMIN (nf_tables, rtnetlink), CAP_NET_RAW
 * (packet captures) and CAP_KILL (process faults, only when process targets
 * are configured), drops every other
 * capability from the bounding set as well (so nothing it ever executes gets
 * them back), clears the inheritable and ambient sets, locks the securebits
 * so that uid 0 grants nothing on exec, and sets no_new_privs. Uses the raw
 * capset(2)/prctl(2) interfaces: libcap is not needed for this.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"

static bool keep_kill_cap;

static bool kept(int cap)
{
    return cap == CAP_NET_ADMIN || cap == CAP_NET_RAW || (keep_kill_cap && cap == CAP_KILL);
}

static int last_cap(void)
{
    FILE *fp = fopen("/proc/sys/kernel/cap_last_cap", "re");
    int v = CAP_LAST_CAP;

    if (fp != NULL) {
        if (fscanf(fp, "%d", &v) != 1)
            v = CAP_LAST_CAP;
        fclose(fp);
    }
    return v;
}

int agent_priv_drop(bool keep_kill, struct fl_err *err)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    int cap, top = last_cap();
    unsigned i;
    bool have_setpcap;

    keep_kill_cap = keep_kill;
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &hdr, data) < 0)
        return fl_errf(err, -errno, "capget: %s", strerror(errno));
    have_setpcap = data[0].effective & (1u << CAP_SETPCAP);
    if (have_setpcap) {
        /* Root gets nothing back through exec, setuid fixups stay off. */
        if (prctl(PR_SET_SECUREBITS,
                  SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                      SECBIT_NO_SETUID_FIXUP_LOCKED,
                  0, 0, 0) < 0)
            return fl_errf(err, -errno, "PR_SET_SECUREBITS: %s", strerror(errno));
        for (cap = 0; cap <= top; cap++)
            if (!kept(cap) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
                return fl_errf(err, -errno, "PR_CAPBSET_DROP %d: %s", cap, strerror(errno));
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return fl_errf(err, -errno, "PR_CAP_AMBIENT_CLEAR_ALL: %s", strerror(errno));
    for (i = 0; i < 2; i++) {
        uint32_t mask = 0;

        for (cap = (int)(32 * i); cap < (int)(32 * (i + 1)); cap++)
            if (kept(cap))
                mask |= 1u << (cap % 32);
        data[i].permitted &= mask;
        data[i].effective &= mask;
        data[i].inheritable = 0;
    }
    if (syscall(SYS_capset, &hdr, data) < 0)
        return fl_errf(err, -errno, "capset: %s", strerror(errno));
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return fl_errf(err, -errno, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) /* no core with the token in it */
        return fl_errf(err, -errno, "PR_SET_DUMPABLE: %s", strerror(errno));
    return 0;
}
