// Where the tests find the source tree and the build's artefacts (generated from paths.cpp.in).
#pragma once

namespace zlt::test {

const char* source_dir();
const char* binary_dir();

}  // namespace zlt::test
