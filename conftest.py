"""pytest's import roots are the functions' (infra.constants.IMPORT_ROOTS), set before any test is collected."""

from infra.constants import add_import_roots

add_import_roots()
