/*
 * faultline-refstore: one replica of the reference multi-region service.
 *
 *   faultline-refstore --id west-z1-h1 --region west --zone z1 \
 *       --listen 10.1.1.1:7000 --peer north-z1-h1=north/z1@http://10.2.1.1:7000 \
 *       --config '{"preset":"key-vault","primary":"west","failover_after":"1s"}'
 *
 * -n checks the command line and the config and exits. Runs until SIGINT or
 * SIGTERM; events (failover, failback, demote, resync) go to stderr with
 * their CLOCK_MONOTONIC time and are also in GET /v1/status.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "faultline/err.h"
#include "faultline/log.h"
#include "refstore.h"

static void usage(void)
{
    fprintf(stderr, "usage: faultline-refstore [-nv] --id NAME --region REGION [--zone ZONE]\n"
                    "           --listen ADDR:PORT [--peer NAME=REGION/ZONE@http://ADDR:PORT]...\n"
                    "           [--config JSON|@FILE]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"id", required_argument, NULL, 'i'},   {"region", required_argument, NULL, 'r'},
        {"zone", required_argument, NULL, 'z'}, {"listen", required_argument, NULL, 'l'},
        {"peer", required_argument, NULL, 'p'}, {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'n'},      {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    const char *id = NULL, *region = NULL, *zone = "z1", *listen = NULL, *config = NULL;
    static struct rs_peer_addr peers[RS_MAX_PEERS];
    struct fl_err err = {0};
    struct rs_config cfg;
    struct rs_replica *r;
    struct rs_http *h;
    int ch, npeers = 0, check = 0, verbose = 0, sig = 0;
    sigset_t set;

    fl_log_init("faultline-refstore", 0);
    while ((ch = getopt_long(argc, argv, "nvh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'i':
            id = optarg;
            break;
        case 'r':
            region = optarg;
            break;
        case 'z':
            zone = optarg;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'p':
            if (npeers == RS_MAX_PEERS)
                fatalx("at most %d peers", RS_MAX_PEERS);
            if (rs_peer_parse(optarg, &peers[npeers++], &err) < 0)
                fatalx("%s", err.msg);
            break;
        case 'n':
            check = 1;
            break;
        case 'v':
            verbose = 1;
            break;
        default:
            usage();
        }
    }
    fl_log_init("faultline-refstore", verbose);
    if (optind != argc || !id || !region || !listen)
        usage();
    if (strlen(id) >= RS_NAME_MAX || strlen(region) >= RS_NAME_MAX || strlen(zone) >= RS_NAME_MAX)
        fatalx("names must be shorter than %d bytes", RS_NAME_MAX);
    if (rs_config_parse(config, &cfg, &err) < 0) {
        log_warnx("%s", err.msg);
        return 2;
    }
    if (check) {
        printf("configuration OK: %s, primary %s, %d peers\n", rs_preset_name(cfg.preset),
               cfg.primary, npeers);
        return 0;
    }
    /* Signals are taken synchronously by main; every other thread has them blocked. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        fatalx("curl_global_init failed");
    r = rs_replica_new(&cfg, id, region, zone, peers, npeers, &err);
    if (!r)
        fatalx("%s", err.msg);
    h = rs_http_start(r, listen, &err);
    if (!h) {
        log_warnx("%s", err.msg);
        rs_replica_free(r);
        return 3;
    }
    if (rs_replica_start(r, &err) < 0) {
        log_warnx("%s", err.msg);
        rs_http_stop(h);
        rs_replica_free(r);
        return 3;
    }
    log_info("replica %s region %s zone %s listening on %s (%s, primary %s, %d peers)", id, region,
             zone, listen, rs_preset_name(cfg.preset), cfg.primary, npeers);
    sigwait(&set, &sig);
    log_info("signal %d: stopping", sig);
    rs_http_stop(h);
    rs_replica_free(r);
    curl_global_cleanup();
    return 0;
}
