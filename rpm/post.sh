# %post ($1: 1 on a first installation, 2 or more on an upgrade): configure from answers.yml or
# MATHESAR_*, an upgrade's backup first (`mathesarctl maintainer rpm-post`, src/commands/maintainer).
# RPM cannot fail a transaction here: what to do is said instead.
mathesarctl maintainer rpm-post "$1" || :
