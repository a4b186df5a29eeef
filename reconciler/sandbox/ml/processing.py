"""Connector pre/post-process functions at predict (reference §4, §8.2), as the server runs them.

Predicting calls `batches` to split text documents into remote calls, `pre_process` for the
parameters a call adds, and `post_process` to turn each remote answer into model tensors.
A function name the profile's release has as a built-in runs `builtin_functions`; any other
string is a Painless script run by `painless.py` (`ConnectorUtils` and `ScriptUtils` of ML
Commons: a REST `parameters` input ignores a pre-process script unless
`pre_process_function.process_remote_inference_input` is true; text documents reach a script
JSON-escaped as `params.text_docs`; a post-process script sees the remote JSON as `params`,
an array under `params.result`). `response_filter` is JSONPath (`jsonpath.py`). Pure: no
store, no network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.http import ApiError
from reconciler.sandbox.ml import builtin_functions as builtins
from reconciler.sandbox.ml import jsonpath, painless, templating
from reconciler.sandbox.ml.builtin_functions import Inputs, Tensor, illegal

if TYPE_CHECKING:
    from reconciler.sandbox.ml.profiles import Profile

PROCESS_REMOTE_INPUT = "pre_process_function.process_remote_inference_input"
CONVERT_INPUT_TO_JSON = "pre_process_function.convert_input_to_json_string"
CONVERT_PARAMS_TO_OBJECT = "pre_process_function.convert_remote_inference_param_to_object"
DEFAULT_PRE = "connector.pre_process.default.embedding"
_PLACEHOLDER = re.compile(r"\$\{parameters\.([^}]+?)\}")


def _is_json(text: Any) -> bool:
    """`StringUtils.isJson`: a JSON object or array."""
    if not isinstance(text, str) or text.strip()[:1] not in ("{", "["):
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _gson(value: Any, *, doubles: bool) -> str:
    """A non-string parameter value as Gson writes it; numbers parsed by Gson are doubles."""
    return json.dumps(_doubled(value) if doubles else value, separators=(",", ":"))


def _doubled(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, list):
        return [_doubled(item) for item in value]
    if isinstance(value, dict):
        return {key: _doubled(item) for key, item in value.items()}
    return value


def _strings(produced: Mapping[str, Any], *, doubles: bool = False) -> dict[str, str]:
    """`convertScriptStringToJsonString` then `escapeRemoteInferenceInputData`: strings kept
    (JSON-escaped unless they are JSON), everything else written as JSON."""
    result: dict[str, str] = {}
    for key, value in produced.items():
        if isinstance(value, str):
            result[key] = value if _is_json(value) else templating.escape(value)
        else:
            result[key] = _gson(value, doubles=doubles)
    return result


def function_name(raw: str | None, parameters: Mapping[str, str], profile: Profile) -> str | None:
    """The function string after `${parameters.*}` substitution (`fillProcessFunctionParameter`;
    2.12+ inserts each value as a JSON string literal, quotes included)."""
    if raw is None or "${parameters." not in raw:
        return raw

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in parameters:
            return match.group(0)
        value = parameters[name]
        return (
            json.dumps(value, ensure_ascii=False) if profile.quoted_function_parameters else value
        )

    return _PLACEHOLDER.sub(substitute, raw)


def batches(
    name: str | None, inputs: Inputs, connector_parameters: Mapping[str, str], *, profile: Profile
) -> list[Inputs]:
    """Text documents split into remote calls (`RemoteConnectorExecutor.calculateChunkSize`):
    `input_docs_processed_step_size`, else one call per document for the Bedrock embedding
    function and for scripts, else one call for all."""
    if inputs.kind != "text_docs" or not inputs.docs:
        return [inputs]
    step_text = connector_parameters.get("input_docs_processed_step_size")
    if step_text is not None:
        step = int(step_text)
        if step <= 0:
            raise illegal(
                "Invalid parameter: input_docs_processed_step_size. It must be positive integer."
            )
    elif name is None:
        step = len(inputs.docs)
    elif name == "connector.pre_process.bedrock.embedding" or name not in profile.functions:
        step = 1
    else:
        step = len(inputs.docs)
    docs = inputs.docs
    return [Inputs("text_docs", docs[i : i + step]) for i in range(0, len(docs), step)]


def pre_process(
    raw_name: str | None,
    *,
    inputs: Inputs,
    parameters: Mapping[str, str],
    algorithm: str,
    profile: Profile,
) -> dict[str, str]:
    """The parameters the pre-process function adds for one remote call (empty for none)."""
    name = raw_name
    if name is None:
        if inputs.kind == "parameters":
            return {}
        if inputs.kind == "text_similarity":
            raise illegal("pre_process_function not defined in connector")
        name = DEFAULT_PRE
    name = function_name(name, parameters, profile) or ""
    if name in profile.functions and name in builtins.PRE:
        if inputs.kind == "parameters":
            return {}
        return _strings(builtins.PRE[name](inputs))
    if inputs.kind == "parameters":
        if parameters.get(PROCESS_REMOTE_INPUT, "").lower() != "true":
            return {}
        return _script_parameters(name, _remote_params(parameters), profile)
    return _script_parameters(name, _document_params(inputs, parameters, algorithm), profile)


def _remote_params(parameters: Mapping[str, str]) -> dict[str, Any]:
    if parameters.get(CONVERT_PARAMS_TO_OBJECT, "").lower() != "true":
        return dict(parameters)
    return {k: json.loads(v) if _is_json(v) else v for k, v in parameters.items()}


def _document_params(
    inputs: Inputs, parameters: Mapping[str, str], algorithm: str
) -> dict[str, Any]:
    """`MLInput.toXContent` of the request, documents JSON-escaped (`escapeMLInput`)."""
    params: dict[str, Any] = {"algorithm": algorithm}
    if inputs.kind == "text_similarity":
        params["query_text"] = templating.escape(inputs.query or "")
    if inputs.docs:
        params["text_docs"] = [templating.escape(doc) for doc in inputs.docs]
    if parameters.get(CONVERT_INPUT_TO_JSON, "").lower() == "true":
        return {k: v if isinstance(v, str) else _gson(v, doubles=False) for k, v in params.items()}
    return params


def _script_parameters(script: str, params: dict[str, Any], profile: Profile) -> dict[str, str]:
    value = painless.run(script, params, escape_helper=profile.escape_helper)
    output = painless.result_string(value, script)
    if output is None:
        raise illegal("Preprocess function output is null")
    try:
        parsed = json.loads(output)
    except ValueError as err:
        raise ApiError(
            500, f"java.io.EOFException: {err}", error_type="json_syntax_exception"
        ) from None
    produced = parsed.get("parameters") if isinstance(parsed, dict) else None
    return _strings(produced if isinstance(produced, dict) else {}, doubles=True)


NOVA_MODEL = "amazon.nova-2-multimodal-embeddings-v1:0"


def clean_payload(payload: str, parameters: Mapping[str, str]) -> str:
    """The rendered body as sent: for the Nova multimodal embedding model the server drops
    `singleEmbeddingParams` sections whose value is null (`ConnectorUtils.cleanPayloadIfNeeded`),
    so one connector template serves text, image, video and audio."""
    if parameters.get("model") != NOVA_MODEL:
        return payload
    try:
        root = json.loads(payload)
    except ValueError:
        return payload
    section = root.get("singleEmbeddingParams") if isinstance(root, dict) else None
    if not isinstance(section, dict):
        return payload
    for field in ("text", "image", "video", "audio"):
        if _null_content(section.get(field), field):
            del section[field]
    return json.dumps(root, ensure_ascii=False, separators=(",", ":"))


def _null_content(value: Any, field: str) -> bool:
    if not isinstance(value, dict):
        return False
    if field == "text":
        return "value" in value and value["value"] is None
    source = value.get("source")
    return isinstance(source, dict) and "bytes" in source and source["bytes"] is None


def post_process(
    raw_name: str | None, answer: Any, *, parameters: Mapping[str, str], profile: Profile
) -> list[Tensor]:
    """Model tensors for one remote answer (`ConnectorUtils.processOutput`)."""
    name = function_name(raw_name, parameters, profile)
    response_filter = parameters.get("response_filter")
    if name and name in profile.functions and name in builtins.POST:
        path = response_filter if response_filter and response_filter.strip() else None
        path = path or builtins.POST_PATHS[name]
        selected = _read(answer, path)
        if selected is None:
            raise illegal("Can't run post process function as model output is null")
        return builtins.POST[name](selected, builtins.data_type_of(path))
    response: Any = answer
    tensor_json = False
    if name:
        script_params = _script_input(answer)
        output = painless.result_string(
            painless.run(name, script_params, escape_helper=profile.escape_helper), name
        )
        if output is not None:
            response, tensor_json = output, _is_json(output)
    if tensor_json:
        return _parse_tensors(response, response_filter, profile)
    if response_filter is not None:
        response = _filtered(response, response_filter, profile)
    return [_response_tensor(response)]


def _script_input(answer: Any) -> dict[str, Any]:
    """`StringUtils.fromJson(response, "result")`: an object is `params`, an array is
    `params.result`; anything else is refused."""
    if isinstance(answer, dict):
        return answer
    if isinstance(answer, list):
        return {"result": answer}
    raise illegal("Unsupported response type")


def _read(document: Any, path: str) -> Any:
    try:
        return jsonpath.read(document, path)
    except jsonpath.InvalidPathError as err:
        raise ApiError(500, str(err), error_type="invalid_path_exception") from None


def _filtered(response: Any, path: str, profile: Profile) -> Any:
    document = json.loads(response) if _is_json(response) else response
    try:
        return jsonpath.read(document, path)
    except jsonpath.PathNotFoundError as err:
        if profile.response_filter_fallback:
            return response
        raise ApiError(500, str(err), error_type="path_not_found_exception") from None
    except jsonpath.InvalidPathError as err:
        raise ApiError(500, str(err), error_type="invalid_path_exception") from None


def _response_tensor(response: Any) -> Tensor:
    """`AbstractConnector.parseResponse` without tensor JSON."""
    if _is_json(response):
        parsed = json.loads(response)
        data = parsed if isinstance(parsed, dict) else {"response": parsed}
        return {"name": "response", "dataAsMap": data}
    if isinstance(response, dict):
        return {"name": "response", "dataAsMap": response}
    return {"name": "response", "dataAsMap": {"response": response}}


def _parse_tensors(text: str, response_filter: str | None, profile: Profile) -> list[Tensor]:
    """A script's tensor JSON (`ModelTensor.parser`): one object or an array of them."""
    parsed = json.loads(text)
    if response_filter is not None:
        selected = _filtered(text, response_filter, profile)
        if not isinstance(selected, str):
            raise ApiError(
                500,
                f"class {type(selected).__name__} cannot be cast to class java.lang.String",
                error_type="class_cast_exception",
            )
        parsed = json.loads(selected) if _is_json(selected) else parsed
    items = parsed if isinstance(parsed, list) else [parsed]
    return [_tensor_from(item) for item in items]


_TENSOR_ORDER = ("name", "data_type", "shape", "data", "result", "dataAsMap")


def _tensor_from(item: Any) -> Tensor:
    if not isinstance(item, dict):
        raise ApiError(
            400,
            f"Failed to parse object: expecting token of type [START_OBJECT] but found "
            f"[{_token(item)}]",
            error_type="parsing_exception",
        )
    data_type = item.get("data_type")
    if data_type is not None and data_type not in builtins.DATA_TYPES:
        raise illegal(
            f"No enum constant org.opensearch.ml.common.output.model.MLResultDataType.{data_type}"
        )
    tensor: Tensor = {}
    for field in _TENSOR_ORDER:
        value = item.get(field)
        if value is None or (field == "data" and (not data_type or not value)):
            continue
        tensor[field] = str(value) if field in ("name", "result") else value
    return tensor


def _token(value: Any) -> str:
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, str):
        return "VALUE_STRING"
    return "VALUE_NUMBER" if isinstance(value, int | float) else "VALUE_NULL"
