/* Helpers shared by the commands: usage errors, number parsing, durations, MPI start-up,
 * and a small JSON writer for --json output. */
#include "cli.h"

#include "synlaw/util.h"

#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- text from files, shown safely ---- */

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when p does not start one. C1
 * controls (U+0080..U+009F, which some terminals obey like ESC [) count as invalid. */
static int utf8_len(const unsigned char *p)
{
    int n = p[0] < 0x80 ? 1 : (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3 : (p[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (n <= 1)
        return n;
    unsigned cp = p[0] & (0x7F >> n);
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    static const unsigned least[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x80 && cp <= 0x9F))
        return 0;
    return n;
}

size_t cli_safe_copy(char *out, size_t cap, const char *s, const char *keep)
{
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = utf8_len(p);
        char esc[8];
        const char *piece = (const char *)p;
        size_t len = (size_t)n;
        if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7F) && !(*p && strchr(keep, *p)))) {
            snprintf(esc, sizeof esc, "\\x%02x", *p);
            piece = esc;
            len = 4;
            n = 1;
        }
        for (size_t i = 0; i < len; i++, k++)
            if (k + 1 < cap)
                out[k] = piece[i];
        p += n;
    }
    if (cap)
        out[k + 1 < cap ? k : cap - 1] = '\0';
    return k;
}

const char *cli_safe(const char *s)
{
    enum { RING = 16 };
    static char *ring[RING];
    static size_t cap[RING];
    static int next;
    if (!s)
        return "(null)";
    int i = next;
    next = (next + 1) % RING;
    size_t need = cli_safe_copy(NULL, 0, s, "") + 1;
    if (need > cap[i]) {
        char *b = realloc(ring[i], need);
        if (!b)
            return "(out of memory)";
        ring[i] = b;
        cap[i] = need;
    }
    cli_safe_copy(ring[i], cap[i], s, "");
    return ring[i];
}

/* "synlaw: " and the formatted message on stderr, made safe (it may quote a file's text). */
static void vreport(const char *fmt, va_list ap)
{
    char buf[8192];
    vsnprintf(buf, sizeof buf, fmt, ap);
    fprintf(stderr, "synlaw: %s", cli_safe(buf));
}

int cli_usage_error(const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n\n%s", usage);
    return EXIT_USAGE;
}

int cli_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

int cli_exit_status(int sl_status)
{
    return sl_status == SL_OK ? EXIT_OK : sl_status == SL_EINPUT ? EXIT_USAGE : EXIT_RUNTIME;
}

int cli_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v) || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int cli_help_only(int argc, char **argv, const char *usage, const char *cmd)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return EXIT_OK;
        }
        return cli_usage_error(usage, "%s: unknown option", cmd);
    }
    return -1;
}

void cli_duration(char *buf, size_t len, double s)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, len, "?");
    else if (s < 60)
        snprintf(buf, len, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, len, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, len, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

/* ---- MPI ---- */

static const char *mpi_command = "synlaw";

static void mpi_fatal(MPI_Comm *comm, int *code, ...)
{
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0, rank = -1;
    MPI_Error_string(*code, msg, &len);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    fprintf(stderr, "synlaw: %s: rank %d: MPI error outside the sweep's own checks: %s\n", mpi_command,
            rank, msg);
    fflush(stderr);
    MPI_Abort(*comm, EXIT_RUNTIME);
}

void cli_mpi_init(const char *command)
{
    mpi_command = command;
    /* Open MPI 4.1's sharedfp/lockedfile component overflows a fixed buffer in MPI_File_open
     * with a path of about 245 characters or more ("stack smashing detected" inside H5Fcreate).
     * synlaw never uses shared file pointers: leave that component out, unless the user chose
     * the sharedfp components themselves. Read by MPI_Init, so set before it. */
    setenv("OMPI_MCA_sharedfp", "^lockedfile", 0);
    MPI_Init(NULL, NULL);
    MPI_Errhandler h;
    if (MPI_Comm_create_errhandler(mpi_fatal, &h) == MPI_SUCCESS) {
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, h);
        MPI_Errhandler_free(&h);
    }
}

/* ---- JSON ---- */

static void json_sep(cli_json *j)
{
    if (j->key) {
        j->key = 0;
        return;
    }
    if (j->depth > 0 && j->count[j->depth]++ > 0)
        fputc(',', j->f);
}

/* A JSON string: control characters, DEL and C1 controls escaped, invalid UTF-8 bytes as
 * U+FFFD, so that the output is valid JSON and safe on a terminal whatever a file held. */
static void json_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = utf8_len(p);
        if (n == 0 && p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) { /* a C1 control */
            fprintf(f, "\\u%04x", p[1]);
            p += 2;
            continue;
        }
        if (n == 0)
            fputs("\\ufffd", f);
        else if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20 || *p == 0x7F)
            fprintf(f, "\\u%04x", *p);
        else
            fwrite(p, 1, (size_t)n, f);
        p += n ? n : 1;
    }
    fputc('"', f);
}

void json_begin(cli_json *j, FILE *f)
{
    memset(j, 0, sizeof *j);
    j->f = f;
}

void json_end(cli_json *j) { fputc('\n', j->f); }

static void json_open(cli_json *j, int c)
{
    json_sep(j);
    fputc(c, j->f);
    if (j->depth + 1 < (int)(sizeof j->count / sizeof j->count[0]))
        j->depth++;
    j->count[j->depth] = 0;
}

static void json_close(cli_json *j, int c)
{
    fputc(c, j->f);
    if (j->depth > 0)
        j->depth--;
}

void json_object(cli_json *j) { json_open(j, '{'); }
void json_object_end(cli_json *j) { json_close(j, '}'); }
void json_array(cli_json *j) { json_open(j, '['); }
void json_array_end(cli_json *j) { json_close(j, ']'); }

void json_key(cli_json *j, const char *key)
{
    json_sep(j);
    json_quoted(j->f, key);
    fputc(':', j->f);
    j->key = 1;
}

void json_string(cli_json *j, const char *s)
{
    json_sep(j);
    json_quoted(j->f, s);
}

void json_number(cli_json *j, double v)
{
    json_sep(j);
    if (isfinite(v))
        fprintf(j->f, "%.17g", v);
    else
        fputs("null", j->f);
}

void json_int(cli_json *j, long long v)
{
    json_sep(j);
    fprintf(j->f, "%lld", v);
}

void json_bool(cli_json *j, int v)
{
    json_sep(j);
    fputs(v ? "true" : "false", j->f);
}

int cli_parse_shape(const char *s, int *rows, int *cols, int *channels)
{
    char tail;
    int c = 1, n = sscanf(s, "%dx%dx%d%c", rows, cols, &c, &tail);
    if (n != 2 && n != 3)
        return -1;
    *channels = c;
    return 0;
}
