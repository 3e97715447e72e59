"""Write a fine-tuned (merged) model back as a GGUF file that the embedded llama.cpp server loads.

The original GGUF file is the template: every metadata key (architecture, hyper-parameters,
the tokenizer's vocabulary, merges and chat template) is copied from it, and the tensors are
written under its own names, in its order, from the trained model's weights. A tensor the
training left unchanged (the token embedding and the norms, which LoRA does not touch) keeps the
original file's bytes and type exactly (it is compared with the original, dequantised); a
changed one is stored as F16 (1-D vectors as F32, as llama.cpp wants them): a LoRA update is small next
to the weight it changes, and F16 keeps about 3 decimal digits of every weight, where Q8_0 keeps
1/127 of a block's largest weight and Q4_1 1/15 -- a few hundred steps of LoRA would mostly
round away. F16 costs 2 bytes a weight (about 270 MB for the 135M model; the bundled Q4_1 file
is about 90 MB) and llama.cpp runs it on any CPU.

Layout: llama.cpp keeps the query and key projections of llama-architecture models with the
rotary halves interleaved (`convert_hf_to_gguf.py` permutes them), and transformers' GGUF
loader undoes that on load; `_permute` applies it again, so an export of the untrained model
serves the same greedy completions as the original file (tests/test_finetune.py).

torch, transformers and gguf come from the `train` extra and are imported lazily.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

F16_FILE_TYPE = 1          # llama_ftype LLAMA_FTYPE_MOSTLY_F16
_WRITER_KEYS = ("GGUF.", "general.architecture", "general.file_type")


def _permute(w: Any, n_head: int) -> Any:
    """HF (rotary halves in two blocks) -> llama.cpp (interleaved), per head: the inverse of
    what transformers does when it reads a llama GGUF file."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def _field_value(field: Any) -> Any:
    return field.contents()


def export_gguf(template: str | os.PathLike, state_dict: Mapping[str, Any],
                out: str | os.PathLike, *, meta: Mapping[str, str] | None = None,
                keep_unchanged: bool = True) -> Path:
    """Write `state_dict` (a merged HF llama model's, name -> torch tensor) as a GGUF file shaped
    like `template`; returns the path. `meta`: extra string metadata (e.g. provenance), stored
    under `mcts_reason.*`; `keep_unchanged` False writes every tensor from `state_dict` (as
    F16/F32) even where it equals the original. Raises ValueError when a tensor of the template has no counterpart
    or another shape. The file is written beside `out` and moved into place when complete."""
    import gguf
    import numpy as np

    reader = gguf.GGUFReader(str(template))
    arch = _field_value(reader.fields["general.architecture"])
    if arch != "llama":
        raise ValueError(f"{template}: architecture {arch!r}, only llama models are exported")
    n_head = int(_field_value(reader.fields["llama.attention.head_count"]))
    n_kv = int(_field_value(reader.fields.get("llama.attention.head_count_kv",
                                              reader.fields["llama.attention.head_count"])))
    n_blocks = int(_field_value(reader.fields["llama.block_count"]))
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, n_blocks)
    mapped: dict[str, Any] = {}
    for hf_name, tensor in state_dict.items():
        g = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if g is not None:
            mapped[g] = tensor
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    writer = gguf.GGUFWriter(str(tmp), arch=arch)
    try:
        for field in reader.fields.values():
            if field.name.startswith(_WRITER_KEYS):
                continue
            sub = field.types[1] if len(field.types) > 1 else None
            writer.add_key_value(field.name, _field_value(field), field.types[0], sub_type=sub)
        writer.add_file_type(F16_FILE_TYPE)
        for k, v in (meta or {}).items():
            writer.add_string(f"mcts_reason.{k}", str(v))
        for t in reader.tensors:
            if t.name not in mapped:
                raise ValueError(f"the trained model has no tensor for {t.name} of {template}")
            w = mapped[t.name].detach().float().cpu().numpy()
            if t.name.endswith("attn_q.weight"):
                w = _permute(w, n_head)
            elif t.name.endswith("attn_k.weight"):
                w = _permute(w, n_kv)
            want = tuple(int(d) for d in reversed(t.shape.tolist()))
            if tuple(w.shape) != want:
                raise ValueError(f"tensor {t.name}: shape {tuple(w.shape)}, the template has "
                                 f"{want}")
            if keep_unchanged and np.array_equal(
                    gguf.dequantize(t.data, t.tensor_type).reshape(w.shape), w):
                writer.add_tensor(t.name, np.asarray(t.data), raw_shape=t.data.shape,
                                  raw_dtype=t.tensor_type)
                continue
            w = np.ascontiguousarray(w.astype(np.float32 if w.ndim == 1 else np.float16))
            writer.add_tensor(t.name, w)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    writer.close()
    os.replace(tmp, out)
    return out
