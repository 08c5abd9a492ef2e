/* Gradient descent in C on a loss exported with its gradients by
 * examples/aot/descent_export.py: logistic(w, b) -> loss, dloss/dw, dloss/db.
 *
 *   python examples/aot/descent_export.py build
 *   cc -O2 -I build examples/aot/descent.c build/logistic.o -lpthread -o build/descent
 *   ./build/descent 0.5 200        (learning rate, steps)
 */
#include <stdio.h>
#include <stdlib.h>

#include "logistic.h"

int main(int argc, char **argv) {
    double rate = argc > 1 ? atof(argv[1]) : 0.5;
    long steps = argc > 2 ? atol(argv[2]) : 200;
    double w[LOGISTIC_IN_0_SIZE] = {0.0, 0.0}, b = 0.0;
    double loss, dw[LOGISTIC_OUT_1_SIZE], db;
    for (long step = 0; step < steps; step++) {
        int code = logistic(w, &b, &loss, dw, &db);
        if (code != GRAPHNN_OK) {
            fprintf(stderr, "logistic failed with code %d\n", code);
            return 1;
        }
        for (int k = 0; k < LOGISTIC_IN_0_SIZE; k++) w[k] -= rate * dw[k];
        b -= rate * db;
        if (step % 50 == 0 || step == steps - 1)
            printf("step %ld loss %.17g w %.17g %.17g b %.17g\n", step, loss, w[0], w[1], b);
    }
    return 0;
}
