"""Content policy checks (pemeriksaan konten): what a variant must meet before it goes out.

``amplifier.policy.lexicon`` holds the category-tagged lexicons (SARA, hoax markers,
profanity, and electoral terms for a masa tenang) and their obfuscation-resistant matcher::

    from amplifier.policy.lexicon import Lexicon

    for match in Lexicon.defaults().scan("dasar b4ngs4t!!"):
        print(match.rule_id, match.severity, match.matched)   # profanity.bangsat review b4ngs4t
"""
