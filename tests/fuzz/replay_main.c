/* tests/fuzz/replay_main.c: runs a fuzz target on files, without libFuzzer, so that the
 * seed corpus and every crash the fuzzer ever found (tests/fuzz/regressions/) run in the
 * normal test suite with any compiler.
 *
 *   fuzz_replay_TARGET PATH...     each PATH a file or a directory of files (not recursive;
 *                                  names starting with '.' or "README" are skipped)
 *
 * A failing check inside the target aborts, which fails the test; otherwise it prints how
 * many inputs ran and exits 0, or 1 when a path cannot be read or no input ran at all. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs larger than this are not corpus material; refusing them keeps a stray big file
 * from turning the test into a slow one. */
#define REPLAY_MAX_INPUT (1u << 20)

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    size_t n;

    if (f == NULL) {
        perror(path);
        return -1;
    }
    buf = malloc(REPLAY_MAX_INPUT);
    if (buf == NULL) {
        fclose(f);
        return -1;
    }
    n = fread(buf, 1, REPLAY_MAX_INPUT, f);
    if (ferror(f) || !feof(f)) {
        fprintf(stderr, "%s: unreadable or over %u bytes\n", path, REPLAY_MAX_INPUT);
        fclose(f);
        free(buf);
        return -1;
    }
    fclose(f);
    /* An exact-size copy, as libFuzzer passes it, so an over-read is caught. */
    {
        uint8_t *exact = malloc(n > 0 ? n : 1);
        if (exact == NULL) {
            free(buf);
            return -1;
        }
        memcpy(exact, buf, n);
        free(buf);
        LLVMFuzzerTestOneInput(exact, n);
        free(exact);
    }
    return 0;
}

static int skip_name(const char *name)
{
    return name[0] == '.' || strncmp(name, "README", 6) == 0;
}

int main(int argc, char **argv)
{
    long ran = 0;
    int bad = 0;

    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            bad = 1;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (run_file(argv[i]) != 0)
                bad = 1;
            else
                ran++;
            continue;
        }
        DIR *dir = opendir(argv[i]);
        if (dir == NULL) {
            perror(argv[i]);
            bad = 1;
            continue;
        }
        struct dirent *de;
        while ((de = readdir(dir)) != NULL) {
            char path[4096];
            if (skip_name(de->d_name))
                continue;
            snprintf(path, sizeof path, "%s/%s", argv[i], de->d_name);
            if (run_file(path) != 0)
                bad = 1;
            else
                ran++;
        }
        closedir(dir);
    }
    printf("%ld inputs replayed%s\n", ran, bad ? ", some paths unreadable" : "");
    return bad || ran == 0 ? 1 : 0;
}
