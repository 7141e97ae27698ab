// RUN: longformer-opt %s -split-input-file -verify-diagnostics

func.func @f() {
  // expected-error @below {{radius must be non-negative, got -1}}
  %m = attn.mask.longformer radius -1 dilation 1 globals [0]
  return
}

// -----

func.func @f() {
  // expected-error @below {{dilation must be positive, got 0}}
  %m = attn.mask.longformer radius 3 dilation 0 globals [0]
  return
}

// -----

func.func @f() {
  // expected-error @below {{global positions must be non-negative and strictly increasing}}
  %m = attn.mask.longformer radius 3 dilation 1 globals [4, 4]
  return
}
