//===- EntryPoints.cpp - the artifact ABI's C entry points ------*- C++ -*-===//
//
// llm-mark-entry-points asks func-to-llvm for `_mlir_ciface_NAME` wrappers;
// llm-export-entry-points wraps each of them in `i32 llm_NAME(ptr args)`, the
// one calling convention the runtime knows (docs/ABI.md), and adds the ABI
// version and thread-count entry points and, for each entry point
// llm-plan-memory gave an arena, `i64 llm_NAME_arena_bytes(i64 batch)`.
//
//===----------------------------------------------------------------------===//

#include "llm/Conversion/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir::llm {
#define GEN_PASS_DEF_LLMMARKENTRYPOINTS
#define GEN_PASS_DEF_LLMEXPORTENTRYPOINTS
#include "llm/Conversion/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;

static constexpr llvm::StringLiteral kCInterfacePrefix = "_mlir_ciface_";
static constexpr llvm::StringLiteral kEntryPrefix = "llm_";
/// 2: results may live in the arena the caller passes (docs/ABI.md).
static constexpr int32_t kABIVersion = 2;

namespace {

struct LLMMarkEntryPoints
    : mlir::llm::impl::LLMMarkEntryPointsBase<LLMMarkEntryPoints> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>())
      if (func.isPublic() && !func.isExternal())
        func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                      UnitAttr::get(&getContext()));
  }
};

struct LLMExportEntryPoints
    : mlir::llm::impl::LLMExportEntryPointsBase<LLMExportEntryPoints> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *context = &getContext();
    OpBuilder builder = OpBuilder::atBlockEnd(module.getBody());
    Location loc = module.getLoc();
    auto ptrType = LLVM::LLVMPointerType::get(context);
    auto i32 = IntegerType::get(context, 32);
    auto voidType = LLVM::LLVMVoidType::get(context);

    // The llm argument attributes (parameter names) have served their
    // purpose; LLVM IR translation would warn about them.
    for (auto func : module.getOps<LLVM::LLVMFuncOp>()) {
      for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i) {
        DictionaryAttr attrs = func.getArgAttrDict(i);
        if (!attrs)
          continue;
        SmallVector<NamedAttribute> kept;
        for (NamedAttribute attr : attrs)
          if (!attr.getName().getValue().starts_with("llm."))
            kept.push_back(attr);
        func.setArgAttrs(i, kept);
      }
    }

    SmallVector<LLVM::LLVMFuncOp> interfaces;
    for (auto func : module.getOps<LLVM::LLVMFuncOp>())
      if (func.getName().starts_with(kCInterfacePrefix) && !func.isExternal())
        interfaces.push_back(func);

    for (LLVM::LLVMFuncOp interface : interfaces) {
      StringRef name = interface.getName().drop_front(kCInterfacePrefix.size());
      std::string entryName = (kEntryPrefix + name).str();
      if (module.lookupSymbol(entryName)) {
        interface.emitError() << "entry point '" << entryName
                              << "' already exists";
        return signalPassFailure();
      }
      LLVM::LLVMFunctionType interfaceType = interface.getFunctionType();
      if (!isa<LLVM::LLVMVoidType>(interfaceType.getReturnType()) ||
          llvm::any_of(interfaceType.getParams(),
                       [](Type t) { return !isa<LLVM::LLVMPointerType>(t); })) {
        interface.emitError()
            << "'" << name
            << "' takes or returns values that are not tensors; only tensor "
               "inputs and results can be exported";
        return signalPassFailure();
      }
      // The C interface takes a pointer to the result first when the
      // function returns something, then the inputs. One memref result is
      // its descriptor; several come packed in a struct of descriptors, which
      // the entry point unpacks into the caller's result descriptors. `args`
      // lists inputs, then results.
      unsigned numParams = interfaceType.getNumParams();
      auto original = module.lookupSymbol<LLVM::LLVMFuncOp>(name);
      Type returnType = original ? original.getFunctionType().getReturnType()
                                 : LLVM::LLVMVoidType::get(context);
      auto packed = dyn_cast<LLVM::LLVMStructType>(returnType);
      bool packsResults = packed && !packed.getBody().empty() &&
                          llvm::all_of(packed.getBody(), [](Type t) {
                            return isa<LLVM::LLVMStructType>(t);
                          });
      bool returnsValue = !isa<LLVM::LLVMVoidType>(returnType);
      unsigned numResults =
          packsResults ? packed.getBody().size() : (returnsValue ? 1 : 0);
      unsigned numInputs = numParams - (returnsValue ? 1 : 0);

      auto entry = LLVM::LLVMFuncOp::create(
          builder, loc, entryName, LLVM::LLVMFunctionType::get(i32, ptrType));
      OpBuilder body = OpBuilder::atBlockBegin(entry.addEntryBlock(builder));
      Value args = entry.getArgument(0);
      auto loadArg = [&](unsigned index) -> Value {
        Value slot = LLVM::GEPOp::create(
            body, loc, ptrType, ptrType, args,
            ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(index)});
        return LLVM::LoadOp::create(body, loc, ptrType, slot);
      };
      SmallVector<Value> callArgs;
      Value resultStruct;
      if (packsResults) {
        Value one = LLVM::ConstantOp::create(body, loc, body.getI64Type(),
                                             body.getI64IntegerAttr(1));
        resultStruct =
            LLVM::AllocaOp::create(body, loc, ptrType, packed, one);
        callArgs.push_back(resultStruct);
      } else if (returnsValue) {
        callArgs.push_back(loadArg(numInputs));
      }
      for (unsigned i = 0; i < numInputs; ++i)
        callArgs.push_back(loadArg(i));
      LLVM::CallOp::create(body, loc, interface, callArgs);
      if (packsResults) {
        Value results = LLVM::LoadOp::create(body, loc, packed, resultStruct);
        for (unsigned r = 0; r < numResults; ++r) {
          Value descriptor = LLVM::ExtractValueOp::create(
              body, loc, results, ArrayRef<int64_t>{r});
          LLVM::StoreOp::create(body, loc, descriptor,
                                loadArg(numInputs + r));
        }
      }
      Value zero = LLVM::ConstantOp::create(body, loc, i32,
                                            body.getI32IntegerAttr(0));
      LLVM::ReturnOp::create(body, loc, zero);
    }

    // i64 llm_NAME_arena_bytes(i64 batch): the arena entry point NAME needs
    // for a batch (llm-plan-memory's fixed + batch x per-sequence bytes).
    if (auto arenas = module->getAttrOfType<DictionaryAttr>("llm.arenas")) {
      Type i64 = builder.getI64Type();
      for (NamedAttribute named : arenas) {
        auto arena = dyn_cast<DictionaryAttr>(named.getValue());
        auto fixed = arena ? arena.getAs<IntegerAttr>("fixed_bytes") : nullptr;
        auto perSequence =
            arena ? arena.getAs<IntegerAttr>("bytes_per_sequence") : nullptr;
        if (!fixed || !perSequence)
          continue;
        auto size = LLVM::LLVMFuncOp::create(
            builder, loc,
            (kEntryPrefix + named.getName().getValue() + "_arena_bytes").str(),
            LLVM::LLVMFunctionType::get(i64, i64));
        OpBuilder body = OpBuilder::atBlockBegin(size.addEntryBlock(builder));
        Value scaled = LLVM::MulOp::create(
            body, loc, size.getArgument(0),
            LLVM::ConstantOp::create(body, loc, i64, perSequence.getInt()));
        Value total = LLVM::AddOp::create(
            body, loc, scaled,
            LLVM::ConstantOp::create(body, loc, i64, fixed.getInt()));
        LLVM::ReturnOp::create(body, loc, total);
      }
    }

    // i32 llm_abi_version() { return kABIVersion; }
    auto version = LLVM::LLVMFuncOp::create(builder, loc, "llm_abi_version",
                                            LLVM::LLVMFunctionType::get(i32, {}));
    {
      OpBuilder body = OpBuilder::atBlockBegin(version.addEntryBlock(builder));
      Value value = LLVM::ConstantOp::create(
          body, loc, i32, body.getI32IntegerAttr(kABIVersion));
      LLVM::ReturnOp::create(body, loc, value);
    }

    // void llm_set_num_threads(i32 n): OpenMP's thread count when the module
    // runs parallel regions (it calls into libomp), nothing otherwise.
    bool usesOpenMP = false;
    module.walk([&](Operation *op) {
      usesOpenMP |= op->getName().getDialectNamespace() == "omp";
    });
    auto setThreads = LLVM::LLVMFuncOp::create(
        builder, loc, "llm_set_num_threads",
        LLVM::LLVMFunctionType::get(voidType, i32));
    {
      OpBuilder body =
          OpBuilder::atBlockBegin(setThreads.addEntryBlock(builder));
      if (usesOpenMP) {
        auto ompSet = module.lookupSymbol<LLVM::LLVMFuncOp>(
            "omp_set_num_threads");
        if (!ompSet) {
          OpBuilder declare = OpBuilder::atBlockBegin(module.getBody());
          ompSet = LLVM::LLVMFuncOp::create(
              declare, loc, "omp_set_num_threads",
              LLVM::LLVMFunctionType::get(voidType, i32));
        }
        LLVM::CallOp::create(body, loc, ompSet, setThreads.getArgument(0));
      }
      LLVM::ReturnOp::create(body, loc, ValueRange{});
    }
  }
};

} // namespace
