/*===- bench/guerguiev/sgemm_limit.c - Products of a non-spiking step ----===//
 *
 * The machine's limit for one mini-batch of the non-spiking Guerguiev
 * network (784-hidden-10, broadcast feedback): the products it cannot avoid,
 * each at OpenBLAS sgemm speed on its shape, in the batch-major layout
 * (rows are examples) that bdl and the PyTorch peer use:
 *
 *   B0 = X·W0ᵀ          m=B     n=hidden k=784
 *   B1 = R0·W1ᵀ         m=B     n=10     k=hidden
 *   A  = [R1f; R1t]·Yᵀ  m=2B    n=hidden k=10      (both phases' apical input)
 *   W1 += α·E1ᵀ·R0      m=10    n=hidden k=B       (beta 1: the update in place)
 *   W0 += α·E0ᵀ·X       m=hidden n=784   k=B
 *
 * Everything else (sigmoids, the error terms, bias updates, gathering the
 * batch) counts against an implementation. As in bench/model_limit.cpp, each
 * product is the fastest of --trials trials of enough calls to take about
 * half a millisecond. With --threads N each product takes the faster of
 * OpenBLAS on 1..N threads, so a shape OpenBLAS threads badly does not make
 * the limit easy.
 *
 *   sgemm_limit [--batch B] [--hidden N] [--threads T] [--trials K]
 *
 * Output: one line of JSON.
 *
 *===----------------------------------------------------------------------===*/

#include <cblas.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void openblas_set_num_threads(int);

typedef struct {
  const char *name;
  int transA, m, n, k;
  float beta;
  const float *a, *b;
  float *c;
  int lda, ldb;
} Product;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void run(const Product *p) {
  /* The updates' tiny alpha keeps W bounded over millions of calls. */
  float alpha = p->beta != 0.0f ? -1e-7f : 1.0f;
  cblas_sgemm(CblasRowMajor, p->transA ? CblasTrans : CblasNoTrans, p->transA ? CblasNoTrans : CblasTrans,
              p->m, p->n, p->k, alpha, p->a, p->lda, p->b, p->ldb, p->beta, p->c, p->n);
}

static double fastest(const Product *p, int trials) {
  run(p); /* warm caches and OpenBLAS's threads */
  double t0 = now();
  run(p);
  double one = now() - t0;
  int calls = (int)(5e-4 / (one > 1e-7 ? one : 1e-7));
  calls = calls < 1 ? 1 : calls > 1000 ? 1000 : calls;
  double best = 1e30;
  for (int t = 0; t < trials; ++t) {
    t0 = now();
    for (int i = 0; i < calls; ++i)
      run(p);
    double s = (now() - t0) / calls;
    best = s < best ? s : best;
  }
  return best;
}

static float *filled(size_t n, float v) {
  float *p = malloc(n * sizeof(float));
  if (!p) {
    fprintf(stderr, "sgemm_limit: out of memory\n");
    exit(1);
  }
  for (size_t i = 0; i < n; ++i)
    p[i] = v * (float)((i % 7) + 1);
  return p;
}

int main(int argc, char **argv) {
  int batch = 32, hidden = 500, threads = 1, trials = 30, in = 784, out = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--batch"))
      batch = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--hidden"))
      hidden = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--threads"))
      threads = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--trials"))
      trials = atoi(argv[i + 1]);
    else {
      fprintf(stderr, "usage: %s [--batch B] [--hidden N] [--threads T] [--trials K]\n", argv[0]);
      return 2;
    }
  }
  if (batch < 1 || hidden < 1 || threads < 1 || trials < 1 || argc % 2 == 0) {
    fprintf(stderr, "usage: %s [--batch B] [--hidden N] [--threads T] [--trials K]\n", argv[0]);
    return 2;
  }
  float *X = filled((size_t)batch * in, 0.01f), *W0 = filled((size_t)hidden * in, 0.001f);
  float *R0 = filled((size_t)batch * hidden, 0.02f), *W1 = filled((size_t)out * hidden, 0.001f);
  float *R1 = filled((size_t)2 * batch * out, 0.02f), *Y = filled((size_t)hidden * out, 0.01f);
  float *E0 = filled((size_t)batch * hidden, 1e-3f), *E1 = filled((size_t)batch * out, 1e-3f);
  float *C = filled((size_t)2 * batch * hidden + (size_t)batch * in, 0.0f);
  Product ps[] = {
      {"X.W0t", 0, batch, hidden, in, 0.0f, X, W0, C, in, in},
      {"R0.W1t", 0, batch, out, hidden, 0.0f, R0, W1, C, hidden, hidden},
      {"R1.Yt", 0, 2 * batch, hidden, out, 0.0f, R1, Y, C, out, out},
      {"W1+=E1t.R0", 1, out, hidden, batch, 1.0f, E1, R0, W1, out, hidden},
      {"W0+=E0t.X", 1, hidden, in, batch, 1.0f, E0, X, W0, hidden, in},
  };
  int np = (int)(sizeof ps / sizeof ps[0]);
  double total = 0, flops = 0;
  printf("{\"impl\": \"sgemm-limit\", \"mode\": \"ns\", \"batch\": %d, \"threads\": %d, \"hidden\": %d, \"products\": {",
         batch, threads, hidden);
  for (int i = 0; i < np; ++i) {
    double best = 1e30;
    int best_t = 1;
    for (int t = 1; t <= threads; ++t) {
      openblas_set_num_threads(t);
      double s = fastest(&ps[i], trials);
      if (s < best)
        best = s, best_t = t;
    }
    total += best;
    flops += 2.0 * ps[i].m * ps[i].n * ps[i].k;
    printf("%s\"%s\": {\"us\": %.3f, \"openblas_threads\": %d}", i ? ", " : "", ps[i].name, 1e6 * best, best_t);
  }
  printf("}, \"us_per_batch\": %.3f, \"us_per_example\": %.4f, \"gflops\": %.2f}\n", 1e6 * total,
         1e6 * total / batch, flops / total * 1e-9);
  return 0;
}
