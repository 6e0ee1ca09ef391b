"""Who may use the app and what each role may do: users file, password hashes, roles, access gate.

Pure Python (no Streamlit): the login form and the gating live in ``pages/_ui.py`` and ``app.py``.
Passwords are hashed with argon2id through ``argon2-cffi``; nothing here implements crypto.
"""
