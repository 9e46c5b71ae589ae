import pytest

import langserve_like


def test_public_api_all_names_are_importable() -> None:
    for name in langserve_like.__all__:
        assert getattr(langserve_like, name) is not None


def test_public_api_matches_langserve_names() -> None:
    # `from langserve import X` -> `from langserve_like import X` for every X LangServe exports.
    for name in ["RemoteRunnable", "APIHandler", "add_routes", "__version__", "CustomUserType"]:
        assert name in langserve_like.__all__


def test_public_api_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="nope"):
        langserve_like.nope  # noqa: B018
