// Single-thread sgemm comparison by CPU time, for a machine shared with other work (wall-clock GFLOP/s
// from `masknet bench gemm` swing with the load; the thread's CPU time mostly does not). Times masknet's
// AVX2 path (Sources/CKernels/sgemm.c, compiled in) against OpenBLAS's cblas_sgemm on one thread at the
// model's shapes, alternating the two sides, best of 8, and prints both rates, their ratio and the
// single-core FMA peak. Build and run from the repository root:
//   clang -O3 -ffp-contract=off -ISources/CKernels/include -o /tmp/bench_sgemm Tools/bench_sgemm_cpu_time.c -lopenblas -lm
//   /tmp/bench_sgemm            # all shapes;  /tmp/bench_sgemm 3  only the fourth
#include "../Sources/CKernels/sgemm.c"
#include <stdio.h>
#include <time.h>
#include <cblas.h>
extern void openblas_set_num_threads(int);
static double now(void){struct timespec t;clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t);return t.tv_sec+t.tv_nsec*1e-9;}
// Shapes as in GEMMBenchmark.modelShapes: m×n×k, tA/tB = op transposes; "wino" ones are single products.
typedef struct {const char*name;int m,n,k,ta,tb;} S;
static S shapes[]={
{"square 2048",2048,2048,2048,0,0},
{"im2col 64x16384x576",64,16384,576,0,0},
{"im2col 256x1024x2304",256,1024,2304,0,0},
{"stem 64x16384x147",64,16384,147,0,0},
{"1x1 256x1024x1024",256,1024,1024,0,0},
{"wgrad 64x576x16384 tB",64,576,16384,0,1},
{"colgrad 576x16384x64 tA",576,16384,64,1,0},
{"wino 128x256x128",128,256,128,0,0},
{"wino 64x456x64",64,456,64,0,0},
{"wino wg 64x64x456 tB",64,64,456,0,1},
{"wino dx 64x456x64 tA",64,456,64,1,0},
{"wino 256x128x256",256,128,256,0,0},
{"fc6 512x1024x12544 tB",512,1024,12544,0,1},
{"fc6 wgrad 1024x12544x512 tA",1024,12544,512,1,0},
};
int main(int argc,char**argv){
  openblas_set_num_threads(1);
  int only = argc>1? atoi(argv[1]) : -1;
  for(int s=0;s<(int)(sizeof shapes/sizeof*shapes);s++){
    if(only>=0&&s!=only)continue;
    S sh=shapes[s]; int m=sh.m,n=sh.n,k=sh.k;
    float*a=malloc(sizeof(float)*m*k),*b=malloc(sizeof(float)*k*n),*c=malloc(sizeof(float)*m*n),*c2=malloc(sizeof(float)*m*n);
    for(long i=0;i<(long)m*k;i++)a[i]=(rand()%1000)/1000.f-.5f;
    for(long i=0;i<(long)k*n;i++)b[i]=(rand()%1000)/1000.f-.5f;
    int lda=sh.ta?m:k, ldb=sh.tb?k:n;
    double fl=2.0*m*n*k; int reps=(int)(3e8/fl); if(reps<1)reps=1;
    double best[2]={1e9,1e9};
    for(int r=0;r<8;r++) for(int side=0;side<2;side++){
      double t=now();
      for(int i=0;i<reps;i++){
        if(side==0) ck_sgemm(ck_gemm_path_avx2,sh.ta,sh.tb,m,n,k,1.f,a,lda,b,ldb,0.f,c,n);
        else cblas_sgemm(CblasRowMajor,sh.ta?CblasTrans:CblasNoTrans,sh.tb?CblasTrans:CblasNoTrans,m,n,k,1.f,a,lda,b,ldb,0.f,c2,n);
      }
      t=(now()-t)/reps; if(t<best[side])best[side]=t;
    }
    double md=0; for(long i=0;i<(long)m*n;i++){double d=fabs(c[i]-c2[i]); if(d>md)md=d;}
    printf("%-26s masknet %6.1f  OpenBLAS %6.1f GFLOP/s  ours/OpenBLAS %.2f  max |difference| %.2g\n",sh.name,fl/best[0]/1e9,fl/best[1]/1e9,best[1]/best[0],md);
    free(a);free(b);free(c);free(c2);
  }
  // The single-core FMA peak (12 independent 8-wide FMA chains).
  double t=now(); probe_avx2(100000000); t=now()-t; printf("FMA peak, 1 thread: %.1f GFLOP/s\n", 1e8*12*8*2/t/1e9);
}
