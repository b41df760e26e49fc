"""Validation evidence, generated (GAMP 5, FDA Computer Software Assurance).

* :mod:`hub.validation.register`: the requirements register, each requirement with its source
  clause and risk class, checked against the exception catalogue;
* :mod:`hub.validation.plugin`: the pytest plugin (``@pytest.mark.req``, ``--validation-out``);
* :mod:`hub.validation.trace` and :mod:`hub.validation.render`: requirement -> tests -> result ->
  commit, the validation summary report and the gate on high-risk requirements;
* ``python -m hub.validation report|check`` (:mod:`hub.validation.__main__`).

Tooling around the product, never part of it: nothing in ``hub`` or ``connectors`` imports this
package (import-linter contract). How to use it: ``docs/validation.md``.
"""
