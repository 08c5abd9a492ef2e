/* Classify the digits test set with the MLP that examples/aot/digits_export.py trained and
 * exported, twice: weights baked into the code (digits_baked.o) and weights passed as inputs
 * (digits_inputs.so). Prints each accuracy and writes the logits next to the data.
 *
 *   python examples/aot/digits_export.py build
 *   cc -O2 -I build examples/aot/classify.c build/digits_baked.o build/digits_inputs.so \
 *       -lpthread -Wl,-rpath,'$ORIGIN' -o build/classify
 *   ./build/classify build
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digits_baked.h"
#include "digits_inputs.h"

#define FEATURES DIGITS_BAKED_IN_0_ROW_SIZE  /* 64 pixels per example */
#define CLASSES DIGITS_BAKED_OUT_0_ROW_SIZE  /* 10 logits per example */

static FILE *open_in(const char *dir, const char *name, const char *mode) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, mode);
    if (!f) {
        perror(path);
        exit(1);
    }
    return f;
}

static void read_all(FILE *f, void *data, size_t size, size_t count) {
    if (fread(data, size, count, f) != count) {
        fprintf(stderr, "short read\n");
        exit(1);
    }
}

/* Print the accuracy of `logits` (n x CLASSES) and save them as dir/file. */
static void report(const char *label, const float *logits, const int32_t *labels, int64_t n,
                   const char *dir, const char *file) {
    int right = 0;
    for (int64_t i = 0; i < n; i++) {
        int best = 0;
        for (int c = 1; c < CLASSES; c++)
            if (logits[i * CLASSES + c] > logits[i * CLASSES + best]) best = c;
        right += best == labels[i];
    }
    printf("%s accuracy %.4f (%d of %lld)\n", label, n ? (double)right / (double)n : 0.0,
           right, (long long)n);
    FILE *f = open_in(dir, file, "wb");
    fwrite(logits, sizeof(float), n * CLASSES, f);
    fclose(f);
}

static void check(int code, const char *what) {
    if (code != GRAPHNN_OK) {
        fprintf(stderr, "%s failed with code %d\n", what, code);
        exit(1);
    }
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "build";
    int32_t header[2];
    FILE *f = open_in(dir, "digits_test.bin", "rb");
    read_all(f, header, sizeof header[0], 2);
    int64_t n = header[0];
    if (header[1] != FEATURES) {
        fprintf(stderr, "the test set has %d pixels per example, the model %d\n", header[1],
                FEATURES);
        return 1;
    }
    float *x = malloc(sizeof(float) * n * FEATURES);
    int32_t *labels = malloc(sizeof(int32_t) * n);
    float *logits = malloc(sizeof(float) * n * CLASSES);
    read_all(f, x, sizeof(float), n * FEATURES);
    read_all(f, labels, sizeof(int32_t), n);
    fclose(f);

    /* 1. weights baked in: only the pixels go in. Any number of rows: digits_baked_batch
     *    runs the kernel over chunks of DIGITS_BAKED_BATCH rows. */
    check(digits_baked_batch(n, x, logits), "digits_baked_batch");
    report("digits_baked  (weights in the code):", logits, labels, n, dir, "logits_baked.bin");

    /* 2. weights as inputs, read from a file: the header gives every size. */
    float *w1 = malloc(sizeof(float) * DIGITS_INPUTS_IN_1_SIZE);
    float *b1 = malloc(sizeof(float) * DIGITS_INPUTS_IN_2_SIZE);
    float *w2 = malloc(sizeof(float) * DIGITS_INPUTS_IN_3_SIZE);
    float *b2 = malloc(sizeof(float) * DIGITS_INPUTS_IN_4_SIZE);
    f = open_in(dir, "digits_weights.bin", "rb");
    read_all(f, w1, sizeof(float), DIGITS_INPUTS_IN_1_SIZE);
    read_all(f, b1, sizeof(float), DIGITS_INPUTS_IN_2_SIZE);
    read_all(f, w2, sizeof(float), DIGITS_INPUTS_IN_3_SIZE);
    read_all(f, b2, sizeof(float), DIGITS_INPUTS_IN_4_SIZE);
    fclose(f);
    memset(logits, 0, sizeof(float) * n * CLASSES);
    check(digits_inputs_batch(n, x, w1, b1, w2, b2, logits), "digits_inputs_batch");
    report("digits_inputs (weights as inputs):  ", logits, labels, n, dir,
           "logits_inputs.bin");
    printf("graph version %.12s..., code for %s\n", digits_baked_version(), DIGITS_BAKED_CPU);

    free(x), free(labels), free(logits), free(w1), free(b1), free(w2), free(b2);
    return 0;
}
