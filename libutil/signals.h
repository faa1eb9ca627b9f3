/* Signal state handed to a container's process. */
#ifndef KEEL_SIGNALS_H
#define KEEL_SIGNALS_H

/* Every signal disposition back to SIG_DFL and an empty signal mask, so the
 * process a container runs inherits nothing of its caller's signal state.
 * Includes the signals glibc reserves for itself (32, 33), which signal()
 * and sigaction() refuse to touch but an ignoring parent may have set. */
void signals_reset_all(void);

#endif
