/* Parallel blob downloads (libcurl multi) straight into the store's
 * verifying writer: resume with Range, retries with backoff, a fresh token
 * on 401. A blob the network failed keeps its partial file so the next pull
 * resumes; a local failure (a write error, a full disk, bytes the registry
 * should not have sent) removes it, and a full disk removes every partial
 * file of the pull, so that the store is left usable. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "error.h"
#include "log.h"
#include "manifest.h"
#include "registry_private.h"
#include "store.h"
#include "xalloc.h"

#define DEFAULT_PARALLEL 6
#define ERROR_BODY_MAX 65536

enum job_state { JOB_PENDING, JOB_WAITING, JOB_ACTIVE, JOB_DONE };

struct job {
    const struct oci_descriptor *d;
    enum job_state state;
    struct store_writer *w;
    CURL *h;
    struct curl_slist *headers;
    struct http_response resp; /* headers, and the body of an error reply */
    int attempt;
    bool refreshed_token;
    bool checked_start; /* first body byte seen: status/range checked */
    bool writing;       /* body goes to the writer (2xx) */
    int64_t offset;     /* bytes already there when this request started */
    int64_t progress_at;
    int64_t resumed_from; /* bytes a partial file held when the writer was opened */
    bool from_scratch;    /* a resumed download failed verification: start over once */
    double not_before;    /* monotonic seconds: retry backoff */
    double t0;
    struct keel_error *werr; /* error raised inside the write callback */
};

struct transfer {
    struct registry_client *c;
    struct store *s;
    const struct transfer_progress *progress;
    bool out_of_space; /* a write failed for want of space: keep no partial file */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Bytes of a 206 must start where the partial file ends. */
static bool content_range_starts_at(const char *cr, int64_t offset)
{
    if (cr == NULL || strncmp(cr, "bytes ", 6) != 0)
        return false;
    char *end;
    long long start = strtoll(cr + 6, &end, 10);
    return end != cr + 6 && *end == '-' && start == offset;
}

static size_t job_write_cb(char *buf, size_t size, size_t n, void *user)
{
    struct job *j = user;
    size_t len = size * n;
    if (!j->checked_start) {
        j->checked_start = true;
        long status = 0;
        curl_easy_getinfo(j->h, CURLINFO_RESPONSE_CODE, &status);
        if (status == 200 || status == 206) {
            j->writing = true;
            if (status == 200 && store_writer_size(j->w) > 0) {
                /* The server ignored Range: start over. */
                if (store_writer_restart(j->w, &j->werr) < 0)
                    return 0;
                j->offset = 0;
            } else if (status == 206 && !content_range_starts_at(j->resp.content_range, j->offset)) {
                error_set(&j->werr, 0, "blob %s: the registry answered Range %" PRId64 "- with \"%s\"",
                          j->d->digest, j->offset, j->resp.content_range ? j->resp.content_range : "(none)");
                return 0;
            }
        }
    }
    if (!j->writing) {
        if (j->resp.body.len + len <= ERROR_BODY_MAX)
            strbuf_append(&j->resp.body, buf, len);
        return len;
    }
    if (store_writer_write(j->w, buf, len, &j->werr) < 0)
        return 0;
    return len;
}

/* The blob is in the store now; skipped = it was there before this pull. */
static void job_done(struct transfer *t, struct job *j, bool skipped)
{
    j->state = JOB_DONE;
    if (t->progress && t->progress->done)
        t->progress->done(t->progress->user, j->d, skipped, skipped ? 0 : now_s() - j->t0);
}

/* A failure of the store's side: name the blob and note a full disk. */
static int job_local_failure(struct transfer *t, const char *what, struct keel_error **err)
{
    if (err && *err && ((*err)->errnum == ENOSPC || (*err)->errnum == EDQUOT))
        t->out_of_space = true;
    return err && *err ? error_prefix(err, "%s", what) : -1;
}

static int job_store_failure(struct transfer *t, const struct job *j, struct keel_error **err)
{
    cleanup_free char *what = xasprintf("blob %s", j->d->digest);
    return job_local_failure(t, what, err);
}

static int job_start(struct transfer *t, CURLM *multi, struct job *j, struct keel_error **err)
{
    if (j->w == NULL) {
        int64_t offset = 0;
        int r = store_writer_open(t->s, j->d->digest, j->d->size, !j->from_scratch, &j->w, &offset, err);
        if (r < 0)
            return job_store_failure(t, j, err);
        if (r == 2) {
            /* Another hoist is fetching it: look again shortly (not an attempt). */
            j->state = JOB_WAITING;
            j->not_before = now_s() + 0.1;
            return 0;
        }
        if (r == 1) {
            job_done(t, j, true);
            return 0;
        }
        j->resumed_from = offset;
        if (t->progress && t->progress->start && j->attempt == 0)
            t->progress->start(t->progress->user, j->d, offset);
        if (j->attempt == 0)
            j->t0 = now_s();
    }
    j->offset = store_writer_size(j->w);
    if (j->d->size >= 0 && j->offset == j->d->size) {
        /* Everything is there already (a previous run died before the rename). */
        int r = store_writer_commit(j->w, err);
        j->w = NULL;
        if (r < 0)
            return job_store_failure(t, j, err);
        job_done(t, j, false);
        return 0;
    }
    struct registry_client *c = t->c;
    if (j->h == NULL)
        j->h = curl_easy_init();
    else
        curl_easy_reset(j->h);
    if (j->h == NULL)
        return error_set(err, ENOMEM, "curl_easy_init");
    http_setup_handle(c, j->h);
    http_response_free(&j->resp);
    j->checked_start = false;
    j->writing = false;
    curl_slist_free_all(j->headers);
    j->headers = NULL;
    cleanup_free char *auth = NULL;
    if (auth_header(c, c->scope, false, &auth, err) < 0)
        return -1;
    if (auth)
        j->headers = curl_slist_append(j->headers, auth);
    if (j->offset > 0) {
        cleanup_free char *range = xasprintf("Range: bytes=%" PRId64 "-", j->offset);
        j->headers = curl_slist_append(j->headers, range);
    }
    cleanup_free char *url = xasprintf("%s/v2/%s/blobs/%s", c->base_url, c->repository, j->d->digest);
    http_set_request(j->h, url, j->headers, &j->resp, job_write_cb, j);
    curl_easy_setopt(j->h, CURLOPT_PRIVATE, j);
    if (c->opts.log)
        log_debug(c->opts.log, "GET %s (from byte %" PRId64 ", attempt %d)", url, j->offset, j->attempt + 1);
    if (curl_multi_add_handle(multi, j->h) != CURLM_OK)
        return error_set(err, 0, "curl_multi_add_handle failed");
    j->state = JOB_ACTIVE;
    return 0;
}

/* Decide what a finished request means: done, retry later, or fail. */
static int job_finish(struct transfer *t, struct job *j, CURLcode code, struct keel_error **err)
{
    struct registry_client *c = t->c;
    long status = 0;
    curl_easy_getinfo(j->h, CURLINFO_RESPONSE_CODE, &status);
    j->resp.status = status;
    int max_attempts = c->opts.max_attempts > 0 ? c->opts.max_attempts : 5;
    cleanup_free char *what = xasprintf("blob %s/%s@%s", c->registry, c->repository, j->d->digest);
    if (j->werr) {
        /* Our own failure (disk, a bad Content-Range): not worth a retry. */
        if (err) {
            error_freep(err);
            *err = steal_ptr(&j->werr);
        }
        store_writer_abort(j->w, false);
        j->w = NULL;
        return job_local_failure(t, what, err);
    }
    if (code == CURLE_OK && (status == 200 || status == 206)) {
        int r = store_writer_commit(j->w, err);
        j->w = NULL;
        if (r < 0 && j->resumed_from > 0 && !j->from_scratch) {
            /* The partial file may hold bytes from a server that lied (the
             * mismatch removed it): fetch the whole blob once more. */
            if (c->opts.log)
                log_debug(c->opts.log, "%s: resumed download failed verification (%s), starting over", what,
                          error_msg(*err));
            error_freep(err);
            j->from_scratch = true;
            j->state = JOB_PENDING;
            return 0;
        }
        if (r < 0)
            return job_local_failure(t, what, err);
        job_done(t, j, false);
        return 0;
    }
    bool progressed = store_writer_size(j->w) > j->offset;
    if (code == CURLE_OK && status == 401 && j->resp.www_authenticate && !j->refreshed_token) {
        j->refreshed_token = true;
        if (auth_parse_challenge(&c->auth, j->resp.www_authenticate, err) < 0)
            return -1;
        cleanup_free char *fresh = NULL;
        if (auth_header(c, c->scope, true, &fresh, err) < 0)
            return -1;
        j->state = JOB_PENDING;
        return 0;
    }
    bool retry = code == CURLE_OK ? http_status_retryable(status) : curl_code_retryable(code);
    /* A transfer that moved forward earns its attempts back: a registry
     * restarted mid-blob resumes instead of giving up. */
    if (progressed)
        j->attempt = 0;
    if (retry && j->attempt + 1 < max_attempts) {
        j->attempt++;
        j->not_before = now_s() + (double)http_backoff_ms(j->attempt, j->resp.retry_after) / 1000.0;
        j->state = JOB_WAITING;
        if (c->opts.log)
            log_debug(c->opts.log, "%s: %s, retrying from byte %" PRId64, what,
                      code == CURLE_OK ? "server error" : curl_easy_strerror(code), store_writer_size(j->w));
        return 0;
    }
    store_writer_abort(j->w, true);
    j->w = NULL;
    if (code != CURLE_OK)
        return error_set(err, 0, "%s: %s (partial download kept for resume)", what, curl_easy_strerror(code));
    return registry_http_error(&j->resp, what, err);
}

static void job_release(struct job *j, CURLM *multi, bool keep_partial)
{
    if (j->h) {
        if (j->state == JOB_ACTIVE)
            curl_multi_remove_handle(multi, j->h);
        curl_easy_cleanup(j->h);
    }
    curl_slist_free_all(j->headers);
    http_response_free(&j->resp);
    store_writer_abort(j->w, keep_partial);
    error_free(j->werr);
}

static void report_progress(struct transfer *t, struct job *jobs, size_t n)
{
    if (t->progress == NULL || t->progress->update == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        struct job *j = &jobs[i];
        if (j->state != JOB_ACTIVE || j->w == NULL)
            continue;
        int64_t done = store_writer_size(j->w);
        if (done != j->progress_at) {
            j->progress_at = done;
            t->progress->update(t->progress->user, j->d, done, j->d->size);
        }
    }
}

int registry_fetch_blobs(struct registry_client *c, struct store *s, const struct oci_descriptor *descs,
                         size_t n, int max_parallel, const struct transfer_progress *progress,
                         struct keel_error **err)
{
    struct transfer t = {.c = c, .s = s, .progress = progress};
    if (max_parallel <= 0)
        max_parallel = DEFAULT_PARALLEL;
    struct job *jobs = xcalloc(n ? n : 1, sizeof(*jobs));
    for (size_t i = 0; i < n; i++) {
        jobs[i].d = &descs[i];
        http_response_free(&jobs[i].resp);
        /* The same blob twice in one image is fetched once. */
        for (size_t k = 0; k < i; k++)
            if (strcmp(descs[k].digest, descs[i].digest) == 0)
                jobs[i].state = JOB_DONE;
    }
    /* Biggest first: the longest download should not start last. */
    size_t *order = xcalloc(n ? n : 1, sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        size_t k = i;
        while (k > 0 && descs[order[k - 1]].size < descs[i].size) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = i;
    }
    CURLM *multi = curl_multi_init();
    int r = multi ? 0 : error_set(err, ENOMEM, "curl_multi_init");
    double last_progress = 0;
    while (r == 0) {
        size_t active = 0, remaining = 0;
        for (size_t i = 0; i < n; i++) {
            active += jobs[i].state == JOB_ACTIVE;
            remaining += jobs[i].state != JOB_DONE;
        }
        if (remaining == 0)
            break;
        double now = now_s();
        for (size_t k = 0; r == 0 && k < n && active < (size_t)max_parallel; k++) {
            struct job *j = &jobs[order[k]];
            if (j->state == JOB_PENDING || (j->state == JOB_WAITING && now >= j->not_before)) {
                r = job_start(&t, multi, j, err);
                active += j->state == JOB_ACTIVE;
            }
        }
        if (r < 0 || active == 0) {
            if (r == 0) {
                struct timespec ts = {.tv_sec = 0, .tv_nsec = 50000000L};
                nanosleep(&ts, NULL);
            }
            continue;
        }
        int running = 0;
        if (curl_multi_perform(multi, &running) != CURLM_OK) {
            r = error_set(err, 0, "curl_multi_perform failed");
            break;
        }
        CURLMsg *msg;
        int left;
        while (r == 0 && (msg = curl_multi_info_read(multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct job *j = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
            CURLcode code = msg->data.result;
            curl_multi_remove_handle(multi, j->h);
            j->state = JOB_PENDING; /* not active any more; job_finish decides */
            r = job_finish(&t, j, code, err);
            if (r < 0)
                j->state = JOB_DONE;
        }
        if (now - last_progress > 0.2) {
            report_progress(&t, jobs, n);
            last_progress = now;
        }
        if (r == 0 && running > 0)
            curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    for (size_t i = 0; i < n; i++)
        job_release(&jobs[i], multi, !t.out_of_space);
    if (multi)
        curl_multi_cleanup(multi);
    free(jobs);
    free(order);
    return r;
}
