"""Run under torchrun by test_trainer.py: train, then save this rank's final weights for comparison."""

from __future__ import annotations

import os
import sys

from speech.config import load_config
from speech.train.checkpoint import save_weights
from speech.train.trainer import Trainer

config = load_config(sys.argv[1], sys.argv[3:])
trainer = Trainer(config)
trainer.fit()
save_weights(f"{sys.argv[2]}/rank{os.environ.get('RANK', '0')}.safetensors", trainer.model.state_dict())
