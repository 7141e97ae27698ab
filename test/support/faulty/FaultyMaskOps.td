//===- FaultyMaskOps.td - a pattern that answers wrongly, on purpose -----===//
//
// attn.mask.faulty_window is a sliding window |q - k| <= radius whose
// evaluate is right and whose `fault` answer is wrong: the tile classes
// ("class"), the key ranges ("ranges") or the predicate IR ("predicate");
// "none" answers everything right. It exists so that tests can show that
// attn-schedule-blocks=verify and the pattern test helper catch each kind of
// mistake a pattern author can make.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_TEST_FAULTY_MASK_OPS_TD
#define ATTN_TEST_FAULTY_MASK_OPS_TD

include "attn/IR/AttnMaskBase.td"

def Attn_FaultyWindowMaskOp : Attn_MaskOp<"faulty_window", [], ["keyRanges"]> {
  let summary = "a window whose classification, key ranges or predicate IR "
                "is wrong on purpose (tests only)";
  let arguments = (ins Attn_IntAttr:$radius, StrAttr:$fault);
  let assemblyFormat = "`radius` $radius `fault` $fault attr-dict";
  let hasVerifier = 1;
}

#endif // ATTN_TEST_FAULTY_MASK_OPS_TD
