"""The two languages the tests read: Korean, and the C locale (English).

``tests/conftest.py`` sets English before every test, so a test that asks for Korean
(``i18n.setup(KO)``, or ``KO`` in a child's environment) leaves no trace in the next."""

KO = {"LANG": "ko_KR.UTF-8"}
C = {"LANG": "C"}
