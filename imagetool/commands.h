/* One function per hoist command, each in its own cmd_NAME.c. */
#ifndef KEEL_HOIST_COMMANDS_H
#define KEEL_HOIST_COMMANDS_H

#include "hoist.h"

int cmd_run(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err);
int cmd_unpack(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err);
int cmd_pull(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err);
int cmd_images(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err);
int cmd_inspect(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err);
int cmd_rm(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err);
int cmd_gc(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err);
int cmd_fsck(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err);
int cmd_tags(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err);
int cmd_login(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err);
int cmd_logout(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err);
int cmd_copy(struct hoist_context *ctx, int argc, char **argv, struct keel_error **err);

#endif
