/*===- bdl/abi.h - The contract between bdlc's output and libbdlrt -------===*
 *
 * A compiled model is data the runtime drives: bdlc emits one constant
 * `bdl_model` of type BdlModel plus the kernel functions it points to. The
 * runtime knows nothing of any particular model; it allocates the tensors
 * the descriptor lists, initialises them, feeds data into the input and
 * target tensors and walks the blocks, calling BLAS for GEMM ops and the
 * generated kernels for everything else.
 *
 * Plain C so that the layout is the C ABI the LLVM code generator mirrors
 * (compiler/codegen/cpu/DescriptorEmitter.cpp); bump BDL_ABI_VERSION on any
 * change to these structs.
 *===----------------------------------------------------------------------===*/
#ifndef BDL_ABI_H
#define BDL_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BDL_ABI_VERSION 13u

/* Slots of the runtime scalar array `hp` every kernel receives. Model
 * hyperparameter i lives at hp[BDL_HP_FIRST_PARAM + i]. */
enum {
  BDL_HP_BATCH = 0,     /* current batch size, as float */
  BDL_HP_INV_BATCH = 1, /* 1 / current batch size */
  BDL_HP_EPOCH = 2,     /* training epoch, counted from 0 (learning-rate schedules) */
  BDL_HP_FIRST_PARAM = 3
};

/* Every tensor is stored row-major as [rows, cols]; a vector is [1, n]. An
 * image of C channels and H x W pixels is stored channel-last, one row per
 * pixel: [batch * H * W, C] (BdlWindow). */
typedef enum {
  BDL_DIM_CONST = 0, /* value is the extent */
  BDL_DIM_BATCH = 1, /* the current batch size times value (1, or H * W for an image) */
  BDL_DIM_PARAM = 2  /* value is a parameter index; extent = its value */
} BdlDimKind;

typedef struct {
  int32_t kind; /* BdlDimKind */
  int32_t value;
} BdlDim;

typedef enum {
  BDL_ROLE_INPUT = 0,    /* [batch, n]: filled with examples by the runtime */
  BDL_ROLE_TARGET = 1,   /* [batch, classes]: one-hot labels */
  BDL_ROLE_WEIGHT = 2,   /* learned; saved as .npy */
  BDL_ROLE_FIXED = 3,    /* initialised once, never learned; saved as .npy */
  BDL_ROLE_STATE = 4,    /* persists across steps and examples */
  BDL_ROLE_TEMP = 5,     /* recomputed every batch */
  BDL_ROLE_OPTIMIZER = 6 /* optimiser state (momentum velocity) */
} BdlTensorRole;

typedef enum {
  BDL_INIT_ZERO = 0,
  BDL_INIT_CONST = 1,   /* a */
  BDL_INIT_UNIFORM = 2, /* U(a, b) */
  BDL_INIT_NORMAL = 3,  /* N(mean a, stddev b) */
  BDL_INIT_XAVIER = 4,  /* U(-s, s), s = sqrt(6 / (fan_in + fan_out)) */
  BDL_INIT_KAIMING = 5, /* N(0, sqrt(2 / fan_in)) */
  BDL_INIT_EYE = 6      /* 1 where row == column, else 0 (selects or copies rows) */
} BdlInitKind;

typedef struct {
  const char *name;
  int32_t role; /* BdlTensorRole */
  int32_t init; /* BdlInitKind; fan_in = cols, fan_out = rows */
  BdlDim rows;
  BdlDim cols;
  float initA;
  float initB;
  /* When >= 0, initA (initB) is hp[initASlot] (hp[initBSlot]) instead: an
   * initialiser argument that depends on parameters (guerguiev_init). */
  int32_t initASlot;
  int32_t initBSlot;
} BdlTensorDesc;

typedef enum { BDL_PARAM_REAL = 0, BDL_PARAM_INT = 1, BDL_PARAM_BOOL = 2 } BdlParamType;

typedef enum {
  BDL_TUNE_NONE = 0,
  BDL_TUNE_LINEAR = 1,
  BDL_TUNE_LOG = 2,
  BDL_TUNE_INT = 3,
  BDL_TUNE_BOOL = 4,
  BDL_TUNE_CHOICE = 5 /* one of BdlParamDesc.choices */
} BdlTuneKind;

/* The values a parameter may take (the model uses it as an optimiser's eps,
 * clip, beta or weight decay); the runtime refuses others. */
typedef enum {
  BDL_RANGE_ANY = 0,
  BDL_RANGE_POSITIVE = 1,    /* > 0 */
  BDL_RANGE_NONNEGATIVE = 2, /* >= 0 */
  BDL_RANGE_FRACTION = 3     /* in [0, 1) */
} BdlParamRange;

/* What `net tune` scores a trial by (the train block's `objective`). */
typedef enum { BDL_METRIC_ACCURACY = 0, BDL_METRIC_LOSS = 1 } BdlMetric;

typedef struct {
  const char *name;
  double value; /* default */
  double lo;    /* tune range, when tune != BDL_TUNE_NONE */
  double hi;
  int32_t type; /* BdlParamType */
  int32_t tune; /* BdlTuneKind */
  /* Nonzero: the value is an expression of earlier parameters, recomputed by
   * BdlModel.derive after every change; --set on it is an error. */
  int32_t derived;
  int32_t numChoices;    /* BDL_TUNE_CHOICE: how many values choices lists */
  const double *choices; /* BDL_TUNE_CHOICE: the values, in order; null otherwise */
  int32_t range;         /* BdlParamRange */
  const char *rangeUse;  /* what needs the range, e.g. "'clip' of 'sgd' at m.bdl:30:34"; or null */
} BdlParamDesc;

/* The integer context of a call: where in simulated time and in the data the
 * kernel runs. Random draws are keyed by (seed, draw site, example, block,
 * step, element), so a run is reproducible whatever the thread count and
 * however examples are split into batches. */
typedef struct {
  uint64_t seed;
  int64_t example0; /* sequence number of row 0's example; row r is example0 + r */
  int64_t time;     /* steps simulated since the state was last reset (all rows) */
  int32_t step;     /* step within the current block, from 0 */
  int32_t steps;    /* steps of the current block */
  int32_t block;    /* index of the block; evaluation blocks have BDL_EVAL_BLOCK set */
  int32_t reserved;
} BdlContext;

#define BDL_EVAL_BLOCK 0x80

/* Philox counter layout of a draw in generated code (bdl/sampler.h mirrors it):
 *   ctr = { element, step, (uint32)example, BDL_DRAW_STREAM | site << 8 | block },
 *   key = { (uint32)seed, (uint32)(seed >> 32) }.
 * BDL_DRAW_STREAM keeps these counters apart from the runtime's own streams. */
#define BDL_DRAW_STREAM 0x20000000u

/* A fused kernel: computes rows [rowBegin, rowEnd) of its iteration space
 * [rows, cols]. `tensors` is the model's tensor table (indexed like
 * BdlModel.tensors), `hp` the runtime scalars. */
typedef void (*BdlKernelFn)(int64_t rowBegin, int64_t rowEnd, int64_t cols, float *const *tensors,
                            const float *hp, const BdlContext *ctx);

/* A block's step count when it is not a constant: evaluated on the host once
 * per batch before the block runs (ctx->step and ctx->steps are 0). May draw
 * (a Wald-distributed phase length) from the context's keys. */
typedef int32_t (*BdlStepsFn)(const float *hp, const BdlContext *ctx);

/* Recomputes every derived parameter's hp slot from the others, in
 * declaration order. */
typedef void (*BdlDeriveFn)(float *hp);

typedef enum {
  BDL_OP_GEMM = 0,   /* C = alpha * op(A) op(B) + beta * C */
  BDL_OP_KERNEL = 1, /* fn over [rows, cols] */
  /* A history of `b` same-shaped tensors a, a+1, ..., a+b-1 (a+j holds the
   * value j steps ago) moves one step back: a+j takes a+j-1's buffer and a
   * takes the oldest one, to be overwritten by the op that follows. Swaps
   * buffers; copies nothing. */
  BDL_OP_ROTATE = 2,
  /* Tensor c was just computed; with `--replay NAME=FILE`, the runtime
   * overwrites it with the row of FILE for the current time step instead
   * (recorded spikes in place of draws). A no-op otherwise. */
  BDL_OP_REPLAY = 3,
  /* Data movement between images, their patches and their pooled values:
   * `image` (BdlImageKind) of tensor a (and b) into c, over `window`.
   * bdl/image.h defines each. */
  BDL_OP_IMAGE = 4
} BdlOpKind;

typedef enum {
  BDL_IMAGE_IM2COL = 0,          /* c [B*OH*OW, C*KH*KW] = the patches of a [B*H*W, C] */
  BDL_IMAGE_COL2IM = 1,          /* c [B*H*W, C] = the adjoint of im2col of a */
  BDL_IMAGE_MAXPOOL = 2,         /* c [B*OH*OW, C] = the window maxima of a */
  BDL_IMAGE_MAXPOOL_ADJOINT = 3, /* c [B*H*W, C] = b routed to the first maximum of a */
  BDL_IMAGE_RESHAPE = 4          /* c = a, element for element */
} BdlImageKind;

/* A sliding window over images of `channels` x `height` x `width`. */
typedef struct {
  int32_t channels, height, width;
  int32_t kernelH, kernelW, stride, pad;
} BdlWindow;

/* One condition of an op's guard: hp[slot] is non-zero (BDL_GUARD_NONZERO
 * set; NaN counts as non-zero, as in a select) or zero. */
enum {
  BDL_GUARD_NONZERO = 1,
  BDL_GUARD_LAST = 2 /* the last literal of its term */
};

typedef struct {
  int32_t slot; /* a param's slot: >= BDL_HP_FIRST_PARAM */
  int32_t flags;
} BdlGuardLiteral;

typedef struct {
  int32_t kind;     /* BdlOpKind */
  int32_t parallel; /* KERNEL: row ranges may run concurrently */
  int32_t a, b, c;  /* GEMM operands (tensor indices) */
  int32_t transA, transB;
  int32_t alphaSlot; /* GEMM: alpha *= hp[alphaSlot] when >= 0 */
  int32_t betaSlot;  /* GEMM: beta *= hp[betaSlot] when >= 0 (momentum folded in) */
  float alpha;
  float beta;
  BdlKernelFn fn; /* KERNEL */
  const char *name;
  BdlDim rows; /* KERNEL iteration space */
  BdlDim cols;
  /* KERNEL: the kernel's symbol, also the name of its PTX entry when the
   * model carries PTX (BdlModel.ptx); null otherwise. */
  const char *symbol;
  int32_t image;    /* IMAGE: BdlImageKind */
  BdlWindow window; /* IMAGE, but for a reshape */
  /* GEMM: nonzero when this op is the only one of the schedule that writes c,
   * a weight it updates in place (beta exactly 1) in a one-step block. */
  int32_t soleWriter;
  /* GEMM in the step loop of a phase: nonzero when no op of that loop writes
   * b, which then holds its value from the prologue to the phase's end (a
   * weight, or a product of weights the prologue computes). */
  int32_t invariantB;
  /* GEMM, ROTATE: when numGuardLiterals > 0, the op runs only when its guard
   * holds: guard[0, numGuardLiterals) is a list of terms (each ends with a
   * literal flagged BDL_GUARD_LAST), and the guard holds when every literal
   * of at least one term does. Nothing reads what the op writes while it
   * does not hold (the selects on params above every read exclude it). */
  int32_t numGuardLiterals;
  const BdlGuardLiteral *guard;
} BdlOp;

/* A stretch of simulated time: the prologue once, then `steps` repetitions
 * of its ops (stepsFn's value when stepsFn is not null). */
typedef struct {
  const char *name;
  int32_t steps;
  int32_t numOps;
  const BdlOp *ops;
  BdlStepsFn stepsFn;
  int32_t numPrologueOps;
  int32_t resetState; /* nonzero: STATE tensors return to their initial value before the block */
  const BdlOp *prologueOps; /* loop invariants of the step loop */
  /* Nonzero: it computes the model's monitors only, and runs only on the
   * batches whose monitors are logged (it advances no time). */
  int32_t monitorsOnly;
  /* Nonzero: skipped in the model's first `warmup` epochs
   * (`learn ... after warmup`). */
  int32_t afterWarmup;
} BdlBlock;

typedef struct {
  const char *name;
  const char *sourceFile;
  const char *dataset; /* default dataset name, e.g. "fashion_mnist" */
  const BdlTensorDesc *tensors;
  const BdlParamDesc *params;
  const BdlBlock *trainBlocks; /* per mini-batch: phases, then learning */
  const BdlBlock *evalBlocks;  /* inference phases only */
  uint32_t abiVersion;
  int32_t numTensors;
  int32_t numParams;
  int32_t numTrainBlocks;
  int32_t numEvalBlocks;
  int32_t inputTensor;
  int32_t targetTensor;
  int32_t predictTensor; /* [batch, classes]: prediction = argmax per row */
  int32_t lossTensor;    /* [batch, 1] per-example loss, or -1 */
  int32_t epochs;        /* defaults from the model's train block */
  int32_t batch;
  int32_t validation; /* training examples held out for validation */
  int32_t objective;  /* BdlMetric; zero (and minimise zero): maximize(accuracy) */
  int32_t minimise;   /* nonzero: the smallest objective is the best */
  BdlDeriveFn derive; /* null when no parameter is derived */
  /* `bdlc --target=cuda`: the kernels as one PTX module (NUL-terminated
   * text) for GPU architecture ptxArch ("sm_80"), entries named like the
   * CPU kernels (BdlOp.symbol); both null otherwise. */
  const char *ptx;
  const char *ptxArch;
  /* The scalars logged per epoch (`monitor NAME = ...`): monitorTensors[i]
   * is a [1, 1] tensor holding monitorNames[i]'s value after a batch on
   * which the monitor blocks ran. */
  int32_t numMonitors;
  const int32_t *monitorTensors;
  const char *const *monitorNames;
  /* The first epochs of `epochs` in which afterWarmup blocks do not run
   * (train block `warmup = N`; the runtime's --warmup). */
  int32_t warmup;
  /* An image input (`input x[C, H, W]`): the dataset's channel-first
   * examples are fed channel-last (BdlDim). All zero for a vector input. */
  int32_t inputChannels, inputHeight, inputWidth;
} BdlModel;

/* Provided by the runtime for generated step functions (host only): a
 * Wald (inverse Gaussian) draw with the given mean and scale, keyed like a
 * draw of site `site` at element 0, step 0 of the context's block. */
float bdl_draw_wald(const BdlContext *ctx, int32_t site, float mean, float scale);

/* The symbol every compiled model defines. */
extern const BdlModel bdl_model;

#ifdef __cplusplus
}
#endif

#endif /* BDL_ABI_H */
