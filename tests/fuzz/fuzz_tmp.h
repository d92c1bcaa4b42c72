/* Where the fuzz targets write their temporary files: /dev/shm when it is there (a tmpfs:
 * thousands of writes a second cost nothing), else /tmp. The files are removed at exit. */
#ifndef SYNLAW_FUZZ_TMP_H
#define SYNLAW_FUZZ_TMP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *fuzz_tmpdir(void)
{
    return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
}

/* Up to four paths removed at exit. */
static const char *fuzz_tmp_files[4];
static void fuzz_tmp_cleanup(void)
{
    for (int i = 0; i < 4; i++)
        if (fuzz_tmp_files[i])
            remove(fuzz_tmp_files[i]);
}
static void fuzz_tmp_register(const char *path)
{
    int i = 0;
    while (i < 4 && fuzz_tmp_files[i])
        i++;
    if (i == 0)
        atexit(fuzz_tmp_cleanup);
    if (i < 4)
        fuzz_tmp_files[i] = path;
}

#endif
