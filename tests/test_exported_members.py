import responsa


def test_public_surface() -> None:
    assert sorted(responsa.__all__) == ["Settings", "__version__", "create_app"]
    for name in responsa.__all__:
        assert hasattr(responsa, name)
