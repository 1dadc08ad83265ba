// Umbrella header: everything a storefront backend needs.
#pragma once

#include "comptoir/io/model_file.h"
#include "comptoir/logging.h"
#include "comptoir/model.h"
#include "comptoir/options.h"
#include "comptoir/progress.h"
#include "comptoir/status.h"
#include "comptoir/version.h"
