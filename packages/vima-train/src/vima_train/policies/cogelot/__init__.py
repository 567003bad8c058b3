"""CoGeLoT's copy of VIMA's network (amitkparekh/CoGeLoT, `experiment=01_their_vima`)."""
