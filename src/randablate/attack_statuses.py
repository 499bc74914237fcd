"""What became of each attacked image: the statuses `attack` writes and `attack_report` reads.

clean: the smoothed classifier is already wrong on (or abstains on) the clean image; broken: a
fresh full query misclassifies (or abstains on) the attack's image; query_fooled: the attack's
queries accepted an image that a fresh full query classifies as the label (counted as unbroken);
unbroken: no start found anything. Torch-free, so the report's environment can import it.
"""

CLEAN, BROKEN, UNBROKEN, QUERY_FOOLED = "clean", "broken", "unbroken", "query_fooled"
