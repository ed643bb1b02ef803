"""llm_ref: pure-PyTorch reference implementations of Hugging Face GPT-2,
BERT and LLaMA plus a minimal safetensors reader/writer, used to produce
golden outputs for llm-opt. See models.py for the exact tensor names."""

from .safetensors_io import (  # noqa: F401
    INDEX_FILE_NAME,
    SINGLE_FILE_NAME,
    load_checkpoint_dir,
    load_file,
    load_sharded,
    read_header,
    save_file,
    save_sharded,
)
from .models import (  # noqa: F401
    FAMILIES,
    bert_encoder,
    bert_forward,
    buffer_spec,
    canonicalize_state_dict,
    default_config,
    forward,
    gpt2_forward,
    init_state_dict,
    llama_forward,
    load_model_dir,
    param_spec,
)
