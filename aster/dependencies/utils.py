"""``fastapi.dependencies.utils``: FastAPI's dependency helpers, under FastAPI's names.

A face.  Extensions import from here, private names included (fastapi-pagination takes
``_get_body_field`` and ``_get_flat_body_params``, fastapi-cache2 ``get_typed_signature``),
so every name of FastAPI 0.165's module is here with its signature and behaviour, and
the earlier releases' names extensions still use.  The code lives in
:mod:`.analysis` (a signature into a ``Dependant``), :mod:`.shapes` (what a parameter
or body is), :mod:`.body`, :mod:`.body_field`, :mod:`.param_models`,
:mod:`.param_values` (reading a request), :mod:`.exits` (``yield`` dependencies) and
:mod:`.solving` (``solve_dependencies`` and friends).
"""

from pydantic import (
    AliasChoices,
    AliasPath,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetJsonSchemaHandler,
    GetPydanticSchema,
    Json,
    Tag,
)
from pydantic.fields import FieldInfo
from pydantic_core import CoreSchema

from .. import params
from .._response import Response
from ..background import BackgroundTasks, StarletteBackgroundTasks
from ..concurrency import (
    _asynccontextmanager_with_shielded_exit,
    _contextmanager_with_concurrency_limit,
    _DependencyConcurrency,
    asynccontextmanager,
    contextmanager_in_threadpool,
    run_in_threadpool,
)
from ..datastructures import FormData, Headers, ImmutableMultiDict, QueryParams, UploadFile
from ..exceptions import DependencyScopeError
from ..fields import (
    ModelField,
    RequiredParam,
    Undefined,
    UnionType,
    copy_field_info,
    create_body_model,
    create_model_field,
    evaluate_forwardref,
    field_annotation_is_scalar,
    field_annotation_is_scalar_sequence,
    field_annotation_is_sequence,
    get_cached_model_fields,
    get_missing_field_error,
    is_bytes_or_nonable_bytes_annotation,
    is_bytes_sequence_annotation,
    is_scalar_field,
    is_uploadfile_or_nonable_uploadfile_annotation,
    is_uploadfile_sequence_annotation,
    lenient_issubclass,
    sequence_types,
    serialize_sequence_value,
    value_is_sequence,
)
from ..requests import HTTPConnection, Request
from ..security.oauth2 import SecurityScopes
from ..websockets import WebSocket
from .analysis import (
    _STREAM_ORIGINS,
    ParamDetails,
    _get_signature,
    add_non_field_param_to_dependency,
    add_param_to_fields,
    analyze_param,
    ensure_multipart_is_installed,
    get_dependant,
    get_parameterless_sub_dependant,
    get_path_param_names,
    get_stream_item_type,
    get_typed_annotation,
    get_typed_return_annotation,
    get_typed_signature,
    is_typealiastype,
    logger,
    multipart_incorrect_install_error,
    multipart_not_installed_error,
)
from .body import (
    _add_form_union_validators,
    _extract_form_body,
    _extract_form_items,
    _extract_form_model,
    _is_form_model_supplied,
    _normalize_form_model,
    _read_file_bytes,
)
from .body_field import _apply_form_body_schema, _get_form_model_schema
from .body_field import get_body_field as _get_body_field
from .models import (
    Dependant,
    DependencyCacheKey,
    _get_cache_key,
    _get_computed_scope,
    _get_oauth_scopes,
    _is_async_gen_callable,
    _is_coroutine_callable,
    _is_gen_callable,
    _UsesScopesCache,
    is_async_gen_callable,
    is_coroutine_callable,
    is_gen_callable,
)
from .param_models import _get_multidict_extras
from .param_values import _is_empty_file_input
from .shapes import flat_param_fields as _get_flat_fields_from_params
from .shapes import get_flat_body_params as _get_flat_body_params
from .shapes import get_flat_params, get_validation_alias
from .shapes import get_form_model as _get_form_model
from .shapes import get_form_models as _get_form_models
from .shapes import get_form_union_models as _get_form_union_models
from .shapes import get_model_type as _get_model_type
from .shapes import get_param_aliases as _get_param_aliases
from .shapes import get_param_model as _get_param_model
from .shapes import is_json_field as _is_json_field
from .shapes import should_embed_body_fields as _should_embed_body_fields
from .solving import (
    SolvedDependency,
    _get_multidict_value,
    _request_param_model_to_args,
    _solve_generator,
    _validate_value_with_model_field,
    get_body_field,
    get_flat_dependant,
    get_param_sub_dependant,
    get_sub_dependant,
    request_body_to_args,
    request_params_to_args,
    solve_dependencies,
    solve_generator,
)

__all__ = [
    "AliasChoices",
    "AliasPath",
    "BackgroundTasks",
    "BaseModel",
    "BeforeValidator",
    "ConfigDict",
    "CoreSchema",
    "Dependant",
    "DependencyCacheKey",
    "DependencyScopeError",
    "FieldInfo",
    "FormData",
    "GetJsonSchemaHandler",
    "GetPydanticSchema",
    "HTTPConnection",
    "Headers",
    "ImmutableMultiDict",
    "Json",
    "ModelField",
    "ParamDetails",
    "QueryParams",
    "Request",
    "RequiredParam",
    "Response",
    "SecurityScopes",
    "SolvedDependency",
    "StarletteBackgroundTasks",
    "Tag",
    "Undefined",
    "UnionType",
    "UploadFile",
    "WebSocket",
    "_STREAM_ORIGINS",
    "_DependencyConcurrency",
    "_UsesScopesCache",
    "_add_form_union_validators",
    "_apply_form_body_schema",
    "_asynccontextmanager_with_shielded_exit",
    "_contextmanager_with_concurrency_limit",
    "_extract_form_body",
    "_extract_form_items",
    "_extract_form_model",
    "_get_body_field",
    "_get_cache_key",
    "_get_computed_scope",
    "_get_flat_body_params",
    "_get_flat_fields_from_params",
    "_get_form_model",
    "_get_form_model_schema",
    "_get_form_models",
    "_get_form_union_models",
    "_get_model_type",
    "_get_multidict_extras",
    "_get_multidict_value",
    "_get_oauth_scopes",
    "_get_param_aliases",
    "_get_param_model",
    "_get_signature",
    "_is_async_gen_callable",
    "_is_coroutine_callable",
    "_is_empty_file_input",
    "_is_form_model_supplied",
    "_is_gen_callable",
    "_is_json_field",
    "_normalize_form_model",
    "_read_file_bytes",
    "_request_param_model_to_args",
    "_should_embed_body_fields",
    "_solve_generator",
    "_validate_value_with_model_field",
    "add_non_field_param_to_dependency",
    "add_param_to_fields",
    "analyze_param",
    "asynccontextmanager",
    "contextmanager_in_threadpool",
    "copy_field_info",
    "create_body_model",
    "create_model_field",
    "ensure_multipart_is_installed",
    "evaluate_forwardref",
    "field_annotation_is_scalar",
    "field_annotation_is_scalar_sequence",
    "field_annotation_is_sequence",
    "get_body_field",
    "get_cached_model_fields",
    "get_dependant",
    "get_flat_dependant",
    "get_flat_params",
    "get_missing_field_error",
    "get_param_sub_dependant",
    "get_parameterless_sub_dependant",
    "get_path_param_names",
    "get_stream_item_type",
    "get_sub_dependant",
    "get_typed_annotation",
    "get_typed_return_annotation",
    "get_typed_signature",
    "get_validation_alias",
    "is_async_gen_callable",
    "is_bytes_or_nonable_bytes_annotation",
    "is_bytes_sequence_annotation",
    "is_coroutine_callable",
    "is_gen_callable",
    "is_scalar_field",
    "is_typealiastype",
    "is_uploadfile_or_nonable_uploadfile_annotation",
    "is_uploadfile_sequence_annotation",
    "lenient_issubclass",
    "logger",
    "multipart_incorrect_install_error",
    "multipart_not_installed_error",
    "params",
    "request_body_to_args",
    "request_params_to_args",
    "run_in_threadpool",
    "sequence_types",
    "serialize_sequence_value",
    "solve_dependencies",
    "solve_generator",
    "value_is_sequence",
]
