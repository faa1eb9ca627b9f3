#include <stdlib.h>

#include "strbuf.h"
#include "unit.h"

int main(void)
{
    struct unit_counts c = {0};
    struct strbuf sb = STRBUF_INIT;
    char *empty = strbuf_detach(&sb);
    CHECK_STREQ(&c, empty, "");
    free(empty);
    for (int i = 0; i < 1000; i++)
        strbuf_printf(&sb, "%d,", i);
    CHECK(&c, sb.len == strlen(sb.buf));
    CHECK(&c, strncmp(sb.buf, "0,1,2,", 6) == 0);
    strbuf_reset(&sb);
    strbuf_puts(&sb, "ab");
    strbuf_putc(&sb, 'c');
    strbuf_append(&sb, "d\0e", 3);
    CHECK(&c, sb.len == 6);
    CHECK_STREQ(&c, sb.buf, "abcd");
    strbuf_release(&sb);
    CHECK(&c, sb.buf == NULL && sb.len == 0);
    return unit_finish(&c);
}
