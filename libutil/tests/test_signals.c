#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "signals.h"
#include "unit.h"

/* Reads SigIgn/SigBlk from /proc/self/status. */
static void read_masks(unsigned long long *ign, unsigned long long *blk)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    *ign = *blk = ~0ULL;
    while (f && fgets(line, sizeof(line), f)) {
        sscanf(line, "SigIgn: %llx", ign);
        sscanf(line, "SigBlk: %llx", blk);
    }
    if (f)
        fclose(f);
}

int main(void)
{
    struct unit_counts c = {0};
    /* Ignore signal 32 the raw way (as an ignoring parent may leave it),
     * plus an ordinary one, and block one. */
    struct {
        void (*h)(int);
        unsigned long flags;
        void (*r)(void);
        unsigned long mask;
    } ign = {SIG_IGN, 0, NULL, 0};
    CHECK(&c, syscall(SYS_rt_sigaction, 32, &ign, NULL, sizeof(ign.mask)) == 0);
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    unsigned long long before_ign, before_blk, after_ign, after_blk;
    read_masks(&before_ign, &before_blk);
    CHECK(&c, (before_ign & (1ULL << 31)) != 0);
    CHECK(&c, before_blk != 0);
    signals_reset_all();
    read_masks(&after_ign, &after_blk);
    CHECK(&c, after_ign == 0);
    CHECK(&c, after_blk == 0);
    return unit_finish(&c);
}
