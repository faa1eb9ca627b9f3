/* One function per command, each in its own cmd_NAME.c. */
#ifndef KEEL_COMMANDS_H
#define KEEL_COMMANDS_H

#include "keel.h"

int cmd_create(struct keel_context *ctx, int argc, char **argv, struct keel_error **err);
int cmd_start(struct keel_context *ctx, int argc, char **argv, struct keel_error **err);
int cmd_run(struct keel_context *ctx, int argc, char **argv, struct keel_error **err);
int cmd_state(struct keel_context *ctx, int argc, char **argv, struct keel_error **err);
int cmd_kill(struct keel_context *ctx, int argc, char **argv, struct keel_error **err);
int cmd_delete(struct keel_context *ctx, int argc, char **argv, struct keel_error **err);
int cmd_list(struct keel_context *ctx, int argc, char **argv, struct keel_error **err);
int cmd_spec(struct keel_context *ctx, int argc, char **argv, struct keel_error **err);
int cmd_features(struct keel_context *ctx, int argc, char **argv, struct keel_error **err);
int cmd_exec(struct keel_context *ctx, int argc, char **argv, struct keel_error **err);
int cmd_ps(struct keel_context *ctx, int argc, char **argv, struct keel_error **err);
int cmd_pause(struct keel_context *ctx, int argc, char **argv, struct keel_error **err);
int cmd_resume(struct keel_context *ctx, int argc, char **argv, struct keel_error **err);
int cmd_update(struct keel_context *ctx, int argc, char **argv, struct keel_error **err);
int cmd_events(struct keel_context *ctx, int argc, char **argv, struct keel_error **err);

#endif
