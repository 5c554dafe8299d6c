"""An Optuna search as an adaptive entrypoint: trials asked as slots free, told as jobs end.

``hydra/sweeper=python_optuna`` takes ``hydra-optuna-sweeper``'s settings (:mod:`.sweeper`)
and runs them through this sweeper with no batch barrier: the search space in Hydra's sweep
grammar (:mod:`.space`), the study in Optuna's own storage, in the sweep dir by default
(:mod:`.study`), the trials asked and told by one entrypoint (:mod:`.search`). Needs the
``optuna`` extra; nothing here is imported unless a sweep uses it.
"""
