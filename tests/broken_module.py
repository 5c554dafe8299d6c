import not_installed_anywhere  # noqa: F401  (a module whose import fails)
