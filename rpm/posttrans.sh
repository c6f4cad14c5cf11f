# %posttrans: after an upgrade whose %post took a backup, the images, then the restart on the new
# release, put back when it fails (`mathesarctl maintainer rpm-posttrans`, src/commands/maintainer).
# RPM cannot fail a transaction here: what to do is said instead.
mathesarctl maintainer rpm-posttrans || :
