"""Finding personal data in coaching text, for ``ecoach.core.pseudonymise``.

``spans`` holds the found-span type and the kinds, ``patterns`` the contact data found by
form (e-mail, phone, IBAN, ...), ``names`` the people, organisations and places found by
word lists and context, ``lexicon`` the word lists.
"""
