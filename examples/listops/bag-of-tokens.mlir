// An attention-free ListOps baseline that attn can train today: token and
// position embeddings, layer norm, dropout, a residual GELU feed-forward
// block, mean pooling over each example's length, a classifier and the
// loss. It sees which tokens occur (and where) but not how they nest, so
// it stays far below the attention and SSM models; it exists to exercise
// the training path (attn-train, the quick CPU run of tools/run-main.sh)
// until the attention kernels' gradients land.
// Batch 32, sequences up to 128 tokens (listops-gen --max-length 120 plus
// CLS), width 64, FFN 128.
func.func @forward(%ids: tensor<32x128xi32> {attn.input = "ids"},
                   %lengths: tensor<32xi32> {attn.input = "lengths"},
                   %labels: tensor<32xi32> {attn.input = "labels"},
                   %seed: i64 {attn.input = "seed"},
                   %tokens: tensor<18x64xf32> {attn.param = "embed.tokens", attn.init = "normal:0.02"},
                   %positions: tensor<128x64xf32> {attn.param = "embed.positions", attn.init = "normal:0.02"},
                   %gamma: tensor<64xf32> {attn.param = "embed.ln.gamma", attn.init = "ones"},
                   %beta: tensor<64xf32> {attn.param = "embed.ln.beta", attn.init = "zeros"},
                   %w1: tensor<64x128xf32> {attn.param = "ffn.w1", attn.init = "normal:0.02"},
                   %b1: tensor<128xf32> {attn.param = "ffn.b1", attn.init = "zeros"},
                   %w2: tensor<128x64xf32> {attn.param = "ffn.w2", attn.init = "normal:0.02"},
                   %b2: tensor<64xf32> {attn.param = "ffn.b2", attn.init = "zeros"},
                   %wc: tensor<64x10xf32> {attn.param = "classifier.w", attn.init = "normal:0.02"},
                   %bc: tensor<10xf32> {attn.param = "classifier.b", attn.init = "zeros"})
    -> (tensor<f32>, tensor<32x10xf32>) {
  %e = attn.embedding %ids, %tokens : tensor<32x128xi32>, tensor<18x64xf32> -> tensor<32x128x64xf32>
  %p = attn.add_positions %e, %positions : tensor<32x128x64xf32>, tensor<128x64xf32>
  %n = attn.layer_norm %p, %gamma, %beta : tensor<32x128x64xf32>, tensor<64xf32>
  %d = attn.dropout %n, %seed rate 0.1 : tensor<32x128x64xf32>
  %h = attn.project %d, %w1, %b1 : tensor<32x128x64xf32>, tensor<64x128xf32>, tensor<128xf32> -> tensor<32x128x128xf32>
  %a = attn.gelu %h : tensor<32x128x128xf32>
  %o = attn.project %a, %w2, %b2 : tensor<32x128x128xf32>, tensor<128x64xf32>, tensor<64xf32> -> tensor<32x128x64xf32>
  %init = tensor.empty() : tensor<32x128x64xf32>
  %r = linalg.add ins(%d, %o : tensor<32x128x64xf32>, tensor<32x128x64xf32>) outs(%init : tensor<32x128x64xf32>) -> tensor<32x128x64xf32>
  %pool = attn.pool mean %r lengths %lengths : tensor<32x128x64xf32>, tensor<32xi32> -> tensor<32x64xf32>
  %logits = attn.project %pool, %wc, %bc : tensor<32x64xf32>, tensor<64x10xf32>, tensor<10xf32> -> tensor<32x10xf32>
  %loss = attn.cross_entropy %logits, %labels : tensor<32x10xf32>, tensor<32xi32> -> tensor<f32>
  return %loss, %logits : tensor<f32>, tensor<32x10xf32>
}
