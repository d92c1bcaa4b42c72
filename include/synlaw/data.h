/* The real task: where its images are (IDX or HDF5), what they are (size, channels, classes,
 * split sizes), and the statistics that standardise every input the networks see.
 *
 * A data_source is what a job's data: section says; a data_shape is what the files turned
 * out to hold, measured before any rank starts (data_probe reads headers and labels only;
 * data_measure adds the pixel statistics, which need every training image). Both are plain
 * data, part of the job_spec that ranks receive as bytes.
 *
 * In memory a split is an idx_set whatever its format: 8-bit pixels, channel planes per
 * image ([count][channels][rows][cols]), one label per image. Float HDF5 images (values in
 * [0, 1]) are quantised to 256 levels, as synthetic images are. */
#ifndef SYNLAW_DATA_H
#define SYNLAW_DATA_H

#include "synlaw/idx.h"

#include <stddef.h>

enum {
    DATA_PATH_LEN = 512,
    DATA_NAME_LEN = 64,
    DATA_NAMES_LEN = 1024, /* class names, comma-separated */
    DATA_WHERE_LEN = 2048, /* a split's images or labels named in messages (data_describe) */
    DATA_MIN_SIDE = 8,
    DATA_MAX_SIDE = 64,
    DATA_MAX_CHANNELS = 3,
    DATA_MAX_CLASSES = 256,
};

typedef enum { DATA_IDX = 0, DATA_HDF5 = 1 } data_format;

/* Which split of a data set. */
typedef enum { DATA_TRAIN = 0, DATA_TEST = 1 } data_split;

/* Where the data is: a job's data: section (data_default gives Fashion-MNIST). */
typedef struct {
    data_format format;
    char dir[DATA_PATH_LEN];    /* directory of relative paths ("" = working directory) */
    char file[DATA_PATH_LEN];   /* hdf5: the file of both splits ("" with train_file/test_file) */
    char train[DATA_PATH_LEN];  /* idx: file-name prefix (train); hdf5: group (train) */
    char test[DATA_PATH_LEN];   /* idx: file-name prefix (t10k); hdf5: group (test) */
    char train_file[DATA_PATH_LEN], test_file[DATA_PATH_LEN]; /* hdf5: one file per split */
    char images[DATA_NAME_LEN]; /* hdf5 dataset names in each group (images, labels) */
    char labels[DATA_NAME_LEN];
    int validation;             /* last images of the training split held out; -1: a sixth */
    int classes;                /* 0: from the data (a labels attribute, or the largest label + 1) */
    char class_names[DATA_NAMES_LEN]; /* "" : from the data where it has them */
} data_source;

/* What the data is. */
typedef struct {
    int rows, cols, channels;   /* image geometry, the same in both splits */
    int classes;                /* outputs of the fine-tuning head */
    int train_count, test_count;
    int validation;             /* images at the end of the training split held out */
    int pool;                   /* train_count - validation: what fine-tuning subsets come from */
    double chance;              /* test error of always answering the training split's most
                                   frequent class: where a network that learnt nothing sits */
    float mean[DATA_MAX_CHANNELS], std[DATA_MAX_CHANNELS]; /* per channel, of pixel/255 over
                                   the whole training split, rounded to 4 decimals; std 0:
                                   not measured yet */
    char class_names[DATA_NAMES_LEN];
} data_shape;

/* Fashion-MNIST in /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist). */
void data_default(data_source *src);
/* Whether a source is Fashion-MNIST in its Debian directory with the default split. */
int data_source_is_default(const data_source *src);
/* Its shape: 28 x 28 x 1, 10 classes, 60,000 + 10,000 images, statistics 0.2860 and 0.3530. */
void data_default_shape(data_shape *shape);
/* Whether a shape's geometry and statistics are Fashion-MNIST's (results and backbone keys of
 * such jobs are those of synlaw before data: existed). */
int data_shape_is_default(const data_shape *shape);

/* Whether two shapes describe the same input and task (geometry, classes, split sizes,
 * statistics): a run resumed or merged on other data would mix results. */
int data_shape_same(const data_shape *a, const data_shape *b);

/* Headers and labels of both splits, not the pixels: geometry, counts, classes, chance,
 * validation and pool (fast: for plan and check). Errors name the file (and dataset) and
 * what was expected. SL_OK, SL_EINPUT or SL_EFAIL (out of memory). */
int data_probe(data_shape *shape, const data_source *src, char *err, size_t errlen);
/* data_probe, then both splits read in full (every pixel checked: a truncated file, a NaN
 * or a float outside [0, 1] is an error) and the statistics of the training split. */
int data_measure(data_shape *shape, const data_source *src, char *err, size_t errlen);
/* Per-channel statistics of a loaded split (rounded to 4 decimals); SL_EINPUT when a channel
 * is constant. */
int data_stats(data_shape *shape, const idx_set *set, char *err, size_t errlen);

/* Load a split (at most max_count images when max_count > 0). 0, or -1 with err naming the
 * file; *set is empty on failure. */
int data_load(idx_set *set, const data_source *src, data_split split, int max_count, char *err,
              size_t errlen);
/* The name of a split's images in messages: "DIR/train-images-idx3-ubyte.gz" or
 * "FILE:/train/images". */
void data_describe(const data_source *src, data_split split, char *buf, size_t len);
const char *data_format_name(data_format f); /* "idx", "hdf5" */
/* "28x28x1" */
void data_shape_text(const data_shape *shape, char *buf, size_t len);

#endif
