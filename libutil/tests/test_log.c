#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "json.h"
#include "log.h"
#include "unit.h"

/* The shared global options: parsed through getopt_long as keel and hoist
 * do, an unknown option is left to the caller, a bad format is an error. */
static void test_log_cli(struct unit_counts *c)
{
    static const struct option opts[] = {
        LOG_CLI_OPTIONS, {"root", required_argument, NULL, 'r'}, {NULL, 0, NULL, 0}};
    char path[] = "/tmp/keel-test-logcli-XXXXXX";
    int tfd = mkstemp(path);
    close(tfd);
    char *argv[] = {"keel", "--log", path, "--root", "/x", "--log-format", "json", "--debug", "cmd", NULL};
    int argc = 9;
    struct log_cli lc;
    log_cli_init(&lc);
    CHECK(c, lc.path == NULL && lc.format == LOG_FORMAT_TEXT && !lc.debug);
    cleanup_error struct keel_error *err = NULL;
    int others = 0, ch;
    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        int r = log_cli_option(&lc, ch, optarg, &err);
        CHECK(c, r == 1 || (r == 0 && ch == 'r'));
        others += r == 0;
    }
    CHECK(c, others == 1 && optind == 8);
    CHECK(c, lc.path && strcmp(lc.path, path) == 0 && lc.format == LOG_FORMAT_JSON && lc.debug);

    struct keel_log log;
    log_init_stderr(&log);
    CHECK(c, log_cli_apply(&lc, &log, &err) == 0);
    CHECK(c, log.fd != 2 && log.format == LOG_FORMAT_JSON && log.min_level == LOG_LEVEL_DEBUG);
    log_debug(&log, "shown");
    log_close(&log);
    cleanup_free char *text = NULL;
    CHECK(c, file_read_whole(path, 1 << 20, &text, NULL, &err) == 0);
    CHECK(c, text && strstr(text, "\"msg\":\"shown\"") != NULL);
    unlink(path);

    CHECK(c, log_cli_option(&lc, LOG_OPT_LOG_FORMAT, "yaml", &err) < 0);
    CHECK(c, err && strstr(err->msg, "yaml") != NULL);
    CHECK(c, log_cli_option(&lc, 'x', NULL, &err) == 0);

    /* Without options the logger stays on stderr at info level. */
    log_cli_init(&lc);
    log_init_stderr(&log);
    CHECK(c, log_cli_apply(&lc, &log, &err) == 0);
    CHECK(c, log.fd == 2 && log.format == LOG_FORMAT_TEXT && log.min_level == LOG_LEVEL_INFO);
}

int main(void)
{
    struct unit_counts c = {0};
    cleanup_error struct keel_error *err = NULL;
    char path[] = "/tmp/keel-test-log-XXXXXX";
    int tfd = mkstemp(path);
    close(tfd);

    struct keel_log log;
    log_init_stderr(&log);
    CHECK(&c, log_open_file(&log, path, &err) == 0);
    enum log_format f;
    CHECK(&c, log_parse_format("yaml", &f, &err) < 0);
    CHECK(&c, log_parse_format("json", &f, &err) == 0);
    log.format = f;
    log_debug(&log, "hidden");
    log_error(&log, "mount \"proc\" to \"/proc\": %s", "Operation not permitted");
    log_close(&log);

    cleanup_free char *text = NULL;
    CHECK(&c, file_read_whole(path, 1 << 20, &text, NULL, &err) == 0);
    CHECK(&c, strstr(text, "hidden") == NULL);
    yajl_val v = NULL;
    CHECK(&c, json_parse(text, strlen(text), "log", &v, &err) == 0);
    yajl_val msg = json_object_get(v, "msg");
    CHECK(&c, msg && strcmp(msg->u.string, "mount \"proc\" to \"/proc\": Operation not permitted") == 0);
    yajl_val level = json_object_get(v, "level");
    CHECK(&c, level && strcmp(level->u.string, "error") == 0);
    CHECK(&c, json_object_get(v, "time") != NULL);
    json_freep(&v);
    unlink(path);

    cleanup_free char *line = log_format_line(LOG_FORMAT_TEXT, LOG_LEVEL_WARNING, "say \"hi\"");
    CHECK(&c, strstr(line, "level=warning msg=\"say \\\"hi\\\"\"\n") != NULL);

    test_log_cli(&c);
    return unit_finish(&c);
}
