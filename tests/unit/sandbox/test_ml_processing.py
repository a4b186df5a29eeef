"""Process functions at predict (reference §4, §8.2): built-ins per release, scripts, filters."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.sandbox.http import ApiError
from reconciler.sandbox.ml import processing
from reconciler.sandbox.ml.builtin_functions import POST, PRE, Inputs
from reconciler.sandbox.ml.profiles import PROFILES, get_profile

NEWEST = get_profile("3.x")
DOCS = Inputs("text_docs", ("a", 'say "b"'))
PAIR = Inputs("text_similarity", ("d1", "d2"), "q")


def pre(name: str | None, inputs: Inputs = DOCS, profile: str = "3.x", **params: str) -> Any:
    return processing.pre_process(
        name,
        inputs=inputs,
        parameters=params,
        algorithm="TEXT_EMBEDDING",
        profile=get_profile(profile),
    )


def post(name: str | None, answer: Any, profile: str = "3.x", **params: str) -> Any:
    return processing.post_process(name, answer, parameters=params, profile=get_profile(profile))


def embedding(vector: list[Any], data_type: str = "FLOAT32") -> dict[str, Any]:
    return {
        "name": "sentence_embedding",
        "data_type": data_type,
        "shape": [len(vector)],
        "data": vector,
    }


def similarity(score: float) -> dict[str, Any]:
    return {"name": "similarity", "data_type": "FLOAT32", "shape": [1], "data": [score]}


PRE_CASES = [
    ("connector.pre_process.openai.embedding", DOCS, {"input": '["a","say \\"b\\""]'}),
    ("connector.pre_process.default.embedding", DOCS, {"input": '["a","say \\"b\\""]'}),
    (None, DOCS, {"input": '["a","say \\"b\\""]'}),
    ("connector.pre_process.cohere.embedding", DOCS, {"texts": '["a","say \\"b\\""]'}),
    ("connector.pre_process.bedrock.embedding", DOCS, {"inputText": "a"}),
    ("connector.pre_process.bedrock.nova.text_embedding", DOCS, {"inputText": "a"}),
    ("connector.pre_process.bedrock.nova.image_embedding", DOCS, {"inputImage": "a"}),
    ("connector.pre_process.bedrock.nova.video_embedding", DOCS, {"inputVideo": "a"}),
    ("connector.pre_process.bedrock.nova.audio_embedding", DOCS, {"inputAudio": "a"}),
    (
        "connector.pre_process.bedrock.nova.embedding",
        Inputs("text_docs", ('{"image": "i"}',)),
        {"image": "i"},
    ),
    ("connector.pre_process.bedrock.nova.embedding", DOCS, {"text": "a"}),
    (
        "connector.pre_process.bedrock.multimodal_embedding",
        DOCS,
        {"inputText": "a", "inputImage": 'say \\"b\\"'},
    ),
    ("connector.pre_process.cohere.multimodal_embedding", DOCS, {"images": '["a","say \\"b\\""]'}),
    (
        "connector.pre_process.cohere.rerank",
        PAIR,
        {"query": "q", "documents": '["d1","d2"]', "top_n": "2"},
    ),
    (
        "connector.pre_process.default.rerank",
        PAIR,
        {"query": "q", "documents": '["d1","d2"]', "top_n": "2"},
    ),
    (
        "connector.pre_process.bedrock.rerank",
        PAIR,
        {
            "queries": '[{"textQuery":{"text":"q"},"type":"TEXT"}]',
            "sources": '[{"inlineDocumentSource":{"textDocument":{"text":"d1"},"type":"TEXT"},'
            '"type":"INLINE"},{"inlineDocumentSource":{"textDocument":{"text":"d2"},'
            '"type":"TEXT"},"type":"INLINE"}]',
            "numberOfResults": "2",
        },
    ),
]


@pytest.mark.parametrize(("name", "inputs", "expected"), PRE_CASES)
def test_builtin_pre_process_functions(
    name: str | None, inputs: Inputs, expected: dict[str, str]
) -> None:
    assert pre(name, inputs) == expected


def test_every_listed_pre_process_name_has_a_case() -> None:
    listed = {name for name in NEWEST.functions if ".pre_process." in name}
    assert listed == set(PRE) == {name for name, _, _ in PRE_CASES if name}


@pytest.mark.parametrize(
    ("name", "inputs", "message"),
    [
        ("connector.pre_process.openai.embedding", PAIR, "can only support TextDocsInputDataSet"),
        ("connector.pre_process.cohere.rerank", DOCS, "only support TextSimilarityInputDataSet"),
        (None, PAIR, "pre_process_function not defined in connector"),
        (
            "connector.pre_process.bedrock.nova.image_embedding",
            Inputs("text_docs"),
            "No input image provided",
        ),
        (
            "connector.pre_process.bedrock.multimodal_embedding",
            Inputs("text_docs"),
            "No input text or image provided",
        ),
    ],
)
def test_pre_process_refusals(name: str | None, inputs: Inputs, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        pre(name, inputs)
    assert caught.value.status == 400 and message in caught.value.reason


def test_a_rest_parameters_input_skips_builtin_and_script_pre_processing() -> None:
    rest = Inputs("parameters")
    assert pre("connector.pre_process.openai.embedding", rest) == {}
    assert pre("return 'not json';", rest) == {}


def test_a_pre_process_script_runs_on_rest_input_when_asked() -> None:
    script = 'return \'{"parameters":{"input":"\' + params.prompt + \'","n":3}}\';'
    produced = pre(
        script, Inputs("parameters"), prompt="hi", **{processing.PROCESS_REMOTE_INPUT: "true"}
    )
    # Gson reads the script's numbers as doubles.
    assert produced == {"input": "hi", "n": "3.0"}


def test_a_pre_process_script_sees_escaped_text_docs() -> None:
    script = (
        'StringBuilder b = new StringBuilder("{\\"parameters\\":{\\"inputText\\":\\"");'
        "b.append(params.text_docs[0]); b.append('\"}}'); return b.toString();"
    )
    produced = pre(script, Inputs("text_docs", ('say "x"',)))
    assert produced == {"inputText": 'say \\"x\\"'}


def test_a_pre_process_script_returning_null_fails() -> None:
    with pytest.raises(ApiError) as caught:
        pre("return null;")
    assert caught.value.reason == "Preprocess function output is null"


POST_CASES = [
    (
        "connector.post_process.openai.embedding",
        {"data": [{"embedding": [1, 2]}, {"embedding": [3, 4]}]},
        [embedding([1, 2]), embedding([3, 4])],
    ),
    ("connector.post_process.cohere.embedding", {"embeddings": [[1.5, 2]]}, [embedding([1.5, 2])]),
    (
        "connector.post_process.cohere_v2.embedding.float",
        {"embeddings": {"float": [[1.0]]}},
        [embedding([1.0])],
    ),
    (
        "connector.post_process.cohere_v2.embedding.int8",
        {"embeddings": {"int8": [[1]]}},
        [embedding([1], "INT8")],
    ),
    (
        "connector.post_process.cohere_v2.embedding.uint8",
        {"embeddings": {"uint8": [[1]]}},
        [embedding([1], "UINT8")],
    ),
    (
        "connector.post_process.cohere_v2.embedding.binary",
        {"embeddings": {"binary": [[1]]}},
        [embedding([1], "BINARY")],
    ),
    (
        "connector.post_process.cohere_v2.embedding.ubinary",
        {"embeddings": {"ubinary": [[1]]}},
        [embedding([1], "UBINARY")],
    ),
    ("connector.post_process.default.embedding", [[5, 6, 7]], [embedding([5, 6, 7])]),
    ("connector.post_process.bedrock.embedding", {"embedding": [9.5]}, [embedding([9.5])]),
    (
        "connector.post_process.bedrock_v2.embedding.float",
        {"embeddingsByType": {"float": [0.5]}},
        [embedding([0.5])],
    ),
    (
        "connector.post_process.bedrock_v2.embedding.binary",
        {"embeddingsByType": {"binary": [1, 0]}},
        [embedding([1, 0], "BINARY")],
    ),
    (
        "connector.post_process.bedrock.nova.embedding",
        {"embeddings": [{"embeddingType": "TEXT", "embedding": [0.25]}]},
        [embedding([0.25])],
    ),
    (
        "connector.post_process.cohere.rerank",
        {"results": [{"index": 1, "relevance_score": 0.2}, {"index": 0, "relevance_score": 0.9}]},
        [similarity(0.9), similarity(0.2)],
    ),
    (
        "connector.post_process.default.rerank",
        [{"index": 1, "relevance_score": 0.2}, {"index": 0, "relevance_score": 0.9}],
        [similarity(0.9), similarity(0.2)],
    ),
    (
        "connector.post_process.bedrock.rerank",
        {"results": [{"index": 1, "relevanceScore": 0.2}, {"index": 0, "relevanceScore": 0.9}]},
        [similarity(0.9), similarity(0.2)],
    ),
    (
        "connector.post_process.bedrock.batch_job_arn",
        {"jobArn": "arn:a/b"},
        [{"name": "response", "dataAsMap": {"jobArn": "arn:a/b", "processedJobArn": "arn:a%2Fb"}}],
    ),
    (
        "connector.post_process.mlcommons.passthrough",
        {"inference_results": [{"output": [{"name": "o", "dataAsMap": {"x": 1}}]}]},
        [{"name": "o", "dataAsMap": {"x": 1}}],
    ),
    (
        "connector.post_process.mlcommons.passthrough",
        {"other": 1},
        [{"name": "response", "dataAsMap": {"other": 1}}],
    ),
]


@pytest.mark.parametrize(("name", "answer", "tensors"), POST_CASES)
def test_builtin_post_process_functions(name: str, answer: Any, tensors: Any) -> None:
    assert post(name, answer) == tensors


def test_every_listed_post_process_name_has_a_case() -> None:
    listed = {name for name in NEWEST.functions if ".post_process." in name}
    assert listed == set(POST) == {name for name, _, _ in POST_CASES}


@pytest.mark.parametrize(
    ("name", "answer", "message"),
    [
        (
            "connector.post_process.openai.embedding",
            {"data": [{"embedding": ["x"]}]},
            "The embedding should be a non-empty List containing Float values.",
        ),
        (
            "connector.post_process.bedrock.embedding",
            {"embedding": {"a": 1}},
            "Post process function input is not a List.",
        ),
        (
            "connector.post_process.cohere.rerank",
            {"results": [{"index": 0}]},
            "The rerank result should contain index and relevance_score.",
        ),
        (
            "connector.post_process.bedrock.rerank",
            {"results": []},
            "Post process function input is empty.",
        ),
        ("connector.post_process.bedrock.batch_job_arn", {"x": 1}, "job arn is missing."),
    ],
)
def test_post_process_validation(name: str, answer: Any, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        post(name, answer)
    assert (caught.value.status, caught.value.reason) == (400, message)


@pytest.mark.parametrize("profile", list(PROFILES))
def test_names_are_builtins_only_from_their_release(profile: str) -> None:
    functions = get_profile(profile).functions
    name = "connector.post_process.bedrock.embedding"
    answer = {"embedding": [1.0]}
    if name in functions:
        assert post(name, answer, profile) == [embedding([1.0])]
    else:  # before 2.12 the name is not a built-in: Painless cannot resolve `connector`
        with pytest.raises(ApiError) as caught:
            post(name, answer, profile)
        assert caught.value.error_type == "script_exception"
        assert caught.value.reason == "compile error"


def test_response_filter_overrides_the_builtin_path() -> None:
    answer = {"result": {"vectors": [[1.0, 2.0]]}}
    tensors = post(
        "connector.post_process.default.embedding", answer, response_filter="$.result.vectors"
    )
    assert tensors == [embedding([1.0, 2.0])]


def test_response_filter_without_function() -> None:
    answer = {"choices": [{"message": {"content": "hello"}}]}
    tensors = post(None, answer, response_filter="$.choices[0].message.content")
    assert tensors == [{"name": "response", "dataAsMap": {"response": "hello"}}]


@pytest.mark.parametrize(("profile", "falls_back"), [("2.19", False), ("3.x", True)])
def test_response_filter_that_finds_nothing(profile: str, falls_back: bool) -> None:
    answer = {"a": 1}
    if falls_back:
        assert post(None, answer, profile, response_filter="$.b") == [
            {"name": "response", "dataAsMap": {"a": 1}}
        ]
        return
    with pytest.raises(ApiError) as caught:
        post(None, answer, profile, response_filter="$.b")
    assert (caught.value.status, caught.value.error_type) == (500, "path_not_found_exception")
    assert caught.value.reason == "No results for path: $['b']"


def test_no_post_processor_wraps_the_answer_as_data_as_map() -> None:
    assert post(None, {"a": 1}) == [{"name": "response", "dataAsMap": {"a": 1}}]
    assert post(None, [1, 2]) == [{"name": "response", "dataAsMap": {"response": [1, 2]}}]


def test_a_post_process_script_returning_tensor_json() -> None:
    script = (
        'def v = params.embedding; return "{\\"name\\":\\"sentence_embedding\\",'
        '\\"data_type\\":\\"FLOAT32\\",\\"shape\\":[" + v.length + "],\\"data\\":" + v + "}";'
    )
    assert post(script, {"embedding": [0.5, 1e-05]}) == [embedding([0.5, 1e-05])]


def test_a_post_process_script_returning_text() -> None:
    script = "return params['completions'][0].data.text;"
    answer = {"completions": [{"data": {"text": "hi"}}]}
    assert post(script, answer) == [{"name": "response", "dataAsMap": {"response": "hi"}}]


def test_a_post_process_script_sees_an_array_answer_as_result() -> None:
    script = "return 'n=' + params.result.length;"
    assert post(script, [[1], [2]]) == [{"name": "response", "dataAsMap": {"response": "n=2"}}]


def test_a_post_process_script_returning_null_keeps_the_answer() -> None:
    assert post("return null;", {"a": 1}) == [{"name": "response", "dataAsMap": {"a": 1}}]


@pytest.mark.parametrize(("profile", "works"), [("2.11", False), ("2.13", True)])
def test_the_escape_helper_exists_from_2_12(profile: str, works: bool) -> None:
    script = 'return \'{"name":"response","result":"\' + escape(params.t) + \'"}\';'
    if works:
        assert post(script, {"t": 'a"b'}, profile) == [{"name": "response", "result": 'a"b'}]
        return
    with pytest.raises(ApiError) as caught:
        post(script, {"t": 'a"b'}, profile)
    assert caught.value.envelope()["error"]["caused_by"]["reason"] == (
        "Unknown call [escape] with [1] arguments."
    )


@pytest.mark.parametrize(("profile", "name"), [("2.11", "x"), ("2.13", '"x"')])
def test_parameters_in_function_names(profile: str, name: str) -> None:
    script = 'return \'{"name":"response","result":"\' + ${parameters.which} + \'"}\';'
    substituted = processing.function_name(script, {"which": "x"}, get_profile(profile))
    assert substituted == script.replace("${parameters.which}", name)


def test_batches_follow_the_chunking_rules() -> None:
    docs = Inputs("text_docs", ("a", "b", "c"))
    one_call = processing.batches(
        "connector.pre_process.openai.embedding", docs, {}, profile=NEWEST
    )
    per_doc = processing.batches(
        "connector.pre_process.bedrock.embedding", docs, {}, profile=NEWEST
    )
    stepped = processing.batches(
        None, docs, {"input_docs_processed_step_size": "2"}, profile=NEWEST
    )
    assert [b.docs for b in one_call] == [("a", "b", "c")]
    assert [b.docs for b in per_doc] == [("a",), ("b",), ("c",)]
    assert [b.docs for b in stepped] == [("a", "b"), ("c",)]


def test_pre_process_output_is_json() -> None:
    produced = pre("connector.pre_process.openai.embedding", Inputs("text_docs", ('say "x"',)))
    assert json.loads(produced["input"]) == ['say "x"']


def test_nova_payloads_drop_null_sections() -> None:
    payload = json.dumps(
        {
            "taskType": "SINGLE_EMBEDDING",
            "singleEmbeddingParams": {
                "text": {"truncationMode": "END", "value": "hi"},
                "image": {"format": "png", "source": {"bytes": None}},
                "audio": {"format": "mp3", "source": {"bytes": None}},
            },
        }
    )
    cleaned = processing.clean_payload(payload, {"model": processing.NOVA_MODEL})
    assert json.loads(cleaned)["singleEmbeddingParams"] == {
        "text": {"truncationMode": "END", "value": "hi"}
    }
    assert processing.clean_payload(payload, {"model": "other"}) == payload
