{
  "targets": [
    {
      "target_name": "flotilla_native",
      "sources": [
        "worker/native/src/addon.cc",
        "worker/native/src/conv.cc",
        "worker/native/src/conv_direct.cc",
        "worker/native/src/matmul.cc",
        "worker/native/src/gemm.cc",
        "worker/native/src/elementwise.cc",
        "worker/native/src/reduce.cc",
        "worker/native/src/layout.cc",
        "worker/native/src/pool.cc",
        "worker/native/src/norm.cc",
        "worker/native/src/gather.cc",
        "worker/native/src/bn_act.cc",
        "worker/native/src/flat.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-march=native", "-fno-trapping-math", "-fopenmp", "-fexceptions"],
      "ldflags": ["-fopenmp"],
      "libraries": ["-lopenblas"]
    }
  ]
}
