# Warnings for project code only (xmesh_warnings is linked PRIVATE by every target).
add_library(xmesh_warnings INTERFACE)
target_compile_options(xmesh_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Wunused -Woverloaded-virtual -Wimplicit-fallthrough
  -Wno-missing-field-initializers)
if(XMESH_WERROR)
  target_compile_options(xmesh_warnings INTERFACE -Werror)
endif()
