#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "error.h"
#include "fileutil.h"
#include "json.h"
#include "log.h"
#include "unit.h"

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
    return unit_finish(&c);
}
