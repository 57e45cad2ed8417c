"""Dialect 2 (`/api/v2/neural`): train a network (202, a `train-…` workflow), read a training, predict with a
registered model (docs/neural.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.common.deps import ClientDep, Principal, SettingsDep, require
from api.common.openapi import returns
from api.dialect2.jsonapi import ok
from api.dialect2.presenters import neural as present
from api.dialect2.schemas.documents import Document
from api.dialect2.schemas.envelopes import UNAVAILABLE, errors, headed
from api.dialect2.schemas.neural import PredictBody, PredictionResult, TrainBody, TrainingDocument
from core.neural import service

router = APIRouter(prefix="/api/v2/neural", tags=["neural"])


@router.post("/train", **headed(returns(TrainingDocument, 202, "Training started: follow `links.status`",
                                         responses=errors(e404="`modelId` names no model (RESOURCE_NOT_FOUND)"),
                                         unavailable=UNAVAILABLE),
                                 "Location"))
async def train(body: TrainBody, client: ClientDep, settings: SettingsDep,
                principal: Annotated[Principal, Depends(require("neural:train"))]) -> JSONResponse:
    """Starts a training; samples that cannot be learnt (no inputs, differing outputs, one class only) are a 400.
    With `modelId` it trains a new version of that model (yours, or you are an admin)."""
    state = await service.start_training(client, settings, body.to_domain(), caller=principal.caller)
    links = present.training_links(state.id)
    return JSONResponse(ok(present.training(state), links=links), status_code=202,
                        headers={"Location": links["status"]})


@router.get("/training/{training_id}", **returns(TrainingDocument))
async def get_training(training_id: str,
                       principal: Annotated[Principal, Depends(require("neural:read"))]) -> dict:
    """Live progress (`currentEpoch`, `loss`, held-out `validation`, `estimatedTime`), then the held-out figures
    and the model version. `error` is null unless the model is yours, shared with you, or you are an admin."""
    state = await service.get_training(training_id, caller=principal.caller)
    return ok(present.training(state), links=present.training_links(state.id))


@router.post("/predict", **returns(Document[PredictionResult], responses=errors(
    e404="No such model, or no such version of it (RESOURCE_NOT_FOUND)")))
async def predict(body: PredictBody, settings: SettingsDep,
                  principal: Annotated[Principal, Depends(require("neural:read"))]) -> dict:
    """An unknown model (or version) is a 404; an input missing features the model was trained on is a 400 naming
    them; a model that is not yours nor shared with you is a 403."""
    result = await service.predict(settings, body.modelId, body.version, body.input, caller=principal.caller)
    return ok(present.prediction(result))
