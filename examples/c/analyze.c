/* Analyse a match with footml from C: prints the number of player tracks, or the error.
 *
 *   cc -std=c11 -I include examples/c/analyze.c -L target/release -lfootml \
 *      -Wl,-rpath,"$PWD/target/release" -o analyze
 *   ./analyze config.json
 *
 * config.json is a footml pipeline configuration, e.g.
 *   {"detections_path": "tests/fixtures/skillcorner/det.txt", "fps": 25, "frame_size": [1920, 1080]}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "footml.h"

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger) free(buf);
            buf = bigger;
        }
    }
    fclose(f);
    if (buf) buf[len] = '\0';
    return buf;
}

/* A real program would use a JSON library (cJSON, jansson); this example only needs to
 * count the items of one top-level array, so it skips over JSON values by hand. */
static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
    return p;
}

static const char *skip_string(const char *p) { /* p at the opening quote */
    for (p++; *p && *p != '"'; p++)
        if (*p == '\\' && p[1]) p++;
    return *p ? p + 1 : p;
}

static const char *skip_value(const char *p) {
    p = skip_ws(p);
    if (*p == '"') return skip_string(p);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        do {
            if (*p == '"') {
                p = skip_string(p);
                continue;
            }
            if (*p == '{' || *p == '[') depth++;
            if (*p == '}' || *p == ']') depth--;
            p++;
        } while (*p && depth > 0);
        return p;
    }
    while (*p && *p != ',' && *p != '}' && *p != ']') p++; /* number, true, false, null */
    return p;
}

/* Number of items in the array under top-level `key` of a JSON object, or -1. */
static long count_items(const char *json, const char *key) {
    const char *p = skip_ws(json);
    if (*p++ != '{') return -1;
    size_t key_len = strlen(key);
    for (p = skip_ws(p); *p == '"'; p = skip_ws(p)) {
        const char *name = p + 1, *end = skip_string(p);
        int match = (size_t)(end - 1 - name) == key_len && strncmp(name, key, key_len) == 0;
        p = skip_ws(end);
        if (*p++ != ':') return -1;
        p = skip_ws(p);
        if (match) {
            if (*p++ != '[') return -1;
            long n = 0;
            for (p = skip_ws(p); *p && *p != ']'; p = skip_ws(p)) {
                p = skip_ws(skip_value(p));
                n++;
                if (*p == ',') p++;
            }
            return n;
        }
        p = skip_ws(skip_value(p));
        if (*p == ',') p++;
    }
    return -1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CONFIG.json\n", argv[0]);
        return 2;
    }
    char *config = read_file(argv[1]);
    if (!config) {
        perror(argv[1]);
        return 1;
    }

    char *report = NULL, *error = NULL;
    footml_result rc = footml_analyze_json(config, &report, &error);
    free(config);
    if (rc != FOOTML_OK) {
        fprintf(stderr, "footml %s: %s (code %u): %s\n", footml_version(), footml_result_message(rc),
                (unsigned)rc, error ? error : "");
        footml_string_free(error);
        return 1;
    }
    printf("tracks: %ld\n", count_items(report, "tracks"));
    footml_string_free(report);
    return 0;
}
