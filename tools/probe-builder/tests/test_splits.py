from probe_builder.corpus import assign_splits, family_of


def test_every_family_of_three_or_more_groups_reaches_every_split():
    groups = [f"fam{f}-{i}" for f in range(6) for i in range(3 + f)]
    s = assign_splits(groups, seed=1)
    for f in range(6):
        got = {s[g] for g in groups if family_of(g) == f"fam{f}"}
        assert got == {"train", "val", "test"}


def test_splits_are_deterministic_and_depend_on_the_seed():
    groups = [f"g-{i}" for i in range(50)]
    assert assign_splits(groups, 3) == assign_splits(list(reversed(groups)), 3)
    assert assign_splits(groups, 3) != assign_splits(groups, 4)
