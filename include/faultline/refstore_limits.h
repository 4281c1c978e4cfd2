/*
 * The limits of faultline-refstore, kept once: the refstore enforces them
 * (targets/refstore/refstore.h) and its launcher checks an experiment
 * against them at validate time (targets/services/refstore.c), so a lab the
 * service cannot serve is refused with file:line:col before anything runs.
 *
 * Why not the lab's 240 hosts: every replica talks to every other one, with
 * two threads per peer (heartbeats, replication) and a heartbeat to each
 * peer every 200 ms. A lab of n hosts costs 2*n*(n-1) threads and
 * n*(n-1)*5 heartbeats a second: 240 hosts would be 114,720 threads (over
 * Linux's default pid_max of 32,768) and 286,800 requests a second on one
 * machine. 33 hosts (32 peers) is 2,112 threads and 5,280 heartbeats a
 * second, which a 2-core machine still serves while it runs the workload.
 */
#ifndef FAULTLINE_REFSTORE_LIMITS_H
#define FAULTLINE_REFSTORE_LIMITS_H

#define FL_REFSTORE_MAX_PEERS   32 /* peers of one replica: a lab of at most 33 hosts */
#define FL_REFSTORE_MAX_REGIONS 16 /* target.priority entries */

#endif
